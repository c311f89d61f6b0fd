"""WeChat callback signatures and the AES message encryption of safe / compatible mode, on
wechatpy (`WeChatSigner`, `PrpCrypto`, `BaseWeChatCrypto`).

Plaintext mode: `signature = sha1(sort(token, timestamp, nonce))`. Safe mode adds
`msg_signature = sha1(sort(token, timestamp, nonce, Encrypt))` and encrypts the XML with
AES-256-CBC over `random(16) + len(xml) + xml + app_id`. What wechatpy leaves to us: signatures
are compared in constant time (wechatpy uses `!=`) and only as 40 hex digits; the Encrypt
payload is checked (base64, block length) before decryption and any failure inside wechatpy
becomes one `CryptoError`; the random prefix comes from `os.urandom` (wechatpy's
`random_string` uses `random`); and several EncodingAESKeys are tried for key rotation.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
from collections.abc import Sequence

from wechatpy.crypto import BaseWeChatCrypto, PrpCrypto
from wechatpy.utils import WeChatSigner

from api.core.config import decode_aes_key

SIGNATURE_RE = re.compile(r"^[0-9a-fA-F]{40}$")
BLOCK = 16
RANDOM_PREFIX = 16

__all__ = ["CryptoError", "MessageCrypto", "SignatureMismatch", "decode_aes_key",
           "sha1_signature", "signature_matches", "verify_signature"]


class CryptoError(Exception):
    """A payload that is not a valid encrypted message for this account."""


class SignatureMismatch(CryptoError):
    """The signature does not match: the request was not sent by WeChat (or was altered)."""


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: sha1 over the lexicographically sorted, concatenated parts."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def signature_matches(expected: str, given: str) -> bool:
    """Constant-time comparison of a 40-hex signature (anything else never matches)."""
    if not SIGNATURE_RE.match(given or ""):
        return False
    return hmac.compare_digest(expected, given.lower())


def verify_signature(token: str, timestamp: str, nonce: str, signature: str) -> bool:
    """The plaintext-mode URL signature of every callback (GET and POST)."""
    return signature_matches(sha1_signature(token, timestamp, nonce), signature)


class _Prp(PrpCrypto):  # type: ignore[misc]
    """wechatpy's message cipher with a random prefix from the OS's CSPRNG."""

    prefix: bytes | None = None

    def get_random_string(self) -> bytes:
        return self.prefix if self.prefix is not None else os.urandom(RANDOM_PREFIX)


class _AccountCrypto(BaseWeChatCrypto):  # type: ignore[misc]
    """One EncodingAESKey of the account (wechatpy's envelope and signature)."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        decode_aes_key(encoding_aes_key)  # a clear ValueError rather than wechatpy's assert
        super().__init__(token, encoding_aes_key, app_id)

    def prp(self, prefix: bytes | None = None) -> _Prp:
        cipher = _Prp(self.key)
        cipher.prefix = prefix
        return cipher


class MessageCrypto:
    """Decrypt WeChat's `Encrypt` payloads and encrypt passive replies.

    `keys` are EncodingAESKeys, current first: after a key rotation in the 公众号 backend,
    messages still encrypted with the previous key are accepted too. A reply is encrypted with
    the key that decrypted its request.
    """

    def __init__(self, token: str, app_id: str, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one EncodingAESKey is required")
        self.token = token
        self.app_id = app_id
        self._accounts = [_AccountCrypto(token, k, app_id) for k in keys]

    def decrypt(self, encrypted: str, msg_signature: str, timestamp: str,
                nonce: str) -> tuple[str, int]:
        """Verify `msg_signature`, decrypt; returns (xml, index of the key that worked)."""
        if not signature_matches(sha1_signature(self.token, timestamp, nonce, encrypted),
                                 msg_signature):
            raise SignatureMismatch("msg_signature does not match")
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CryptoError("Encrypt is not valid base64") from exc
        if len(raw) < 2 * BLOCK or len(raw) % BLOCK:
            raise CryptoError("ciphertext has an invalid length")
        for index, account in enumerate(self._accounts):
            try:
                xml = account.prp().decrypt(encrypted, self.app_id)
            except Exception:  # wrong key: bad padding, length, app id or UTF-8 inside wechatpy
                continue
            return str(xml), index
        raise CryptoError("no configured EncodingAESKey decrypts this message")

    def encrypt(self, xml: str, timestamp: str, nonce: str, key_index: int = 0,
                random_prefix: bytes | None = None) -> tuple[str, str]:
        """Encrypt a reply; returns (Encrypt, MsgSignature) for the reply envelope."""
        if random_prefix is not None and len(random_prefix) != RANDOM_PREFIX:
            raise ValueError("random prefix must be 16 bytes")
        account = self._accounts[key_index]
        encrypted = account.prp(random_prefix).encrypt(xml, self.app_id).decode("ascii")
        return encrypted, sha1_signature(self.token, timestamp, nonce, encrypted)

    def encrypt_reply(self, xml: str, timestamp: str, nonce: str, key_index: int = 0) -> str:
        """The safe-mode reply envelope (wechatpy's): encrypted passive reply + signature."""
        account = self._accounts[key_index]
        return str(account._encrypt_message(xml, nonce, timestamp, _Prp))
