"""WeChat callback signatures and the AES message encryption of safe / compatible mode.

Plaintext mode: `signature = sha1(sort(token, timestamp, nonce))`. Safe mode adds
`msg_signature = sha1(sort(token, timestamp, nonce, Encrypt))` and encrypts the XML with
AES-256-CBC (key = base64(EncodingAESKey + "="), IV = key[:16], PKCS#7 padded to 32 bytes) over
`random(16) + len(xml) (4 bytes, big endian) + xml + app_id`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SIGNATURE_RE = re.compile(r"^[0-9a-fA-F]{40}$")
PAD_BLOCK = 32  # WeChat pads to 32 bytes, not AES's 16
RANDOM_PREFIX = 16


class CryptoError(Exception):
    """A payload that is not a valid encrypted message for this account."""


class SignatureMismatch(CryptoError):
    """The signature does not match: the request was not sent by WeChat (or was altered)."""


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key behind a 43-character EncodingAESKey; ValueError if malformed."""
    if len(encoding_aes_key) != 43:
        raise ValueError("EncodingAESKey must be exactly 43 characters (base64 of 32 bytes)")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError("EncodingAESKey is not valid base64") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: sha1 over the lexicographically sorted, concatenated parts."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_matches(expected: str, given: str) -> bool:
    """Constant-time comparison of a 40-hex signature (anything else never matches)."""
    if not SIGNATURE_RE.match(given or ""):
        return False
    return hmac.compare_digest(expected, given.lower())


def verify_signature(token: str, timestamp: str, nonce: str, signature: str) -> bool:
    """The plaintext-mode URL signature of every callback (GET and POST)."""
    return signature_matches(sha1_signature(token, timestamp, nonce), signature)


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
        self._keys = [decode_aes_key(k) for k in keys]

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
        if len(raw) < PAD_BLOCK or len(raw) % 16:
            raise CryptoError("ciphertext has an invalid length")
        for index, key in enumerate(self._keys):
            try:
                return self._decrypt_with(key, raw), index
            except CryptoError:
                continue
        raise CryptoError("no configured EncodingAESKey decrypts this message")

    def _decrypt_with(self, key: bytes, raw: bytes) -> str:
        decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        plain = decryptor.update(raw) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= PAD_BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CryptoError("bad padding")
        content = plain[RANDOM_PREFIX:-pad]
        if len(content) < 4:
            raise CryptoError("truncated message")
        (length,) = struct.unpack(">I", content[:4])
        if 4 + length > len(content):
            raise CryptoError("message length out of range")
        if content[4 + length:] != self.app_id.encode("utf-8"):
            raise CryptoError("message is for another app id")
        try:
            return content[4:4 + length].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CryptoError("message is not UTF-8") from exc

    def encrypt(self, xml: str, timestamp: str, nonce: str, key_index: int = 0,
                random_prefix: bytes | None = None) -> tuple[str, str]:
        """Encrypt a reply; returns (Encrypt, MsgSignature) for the reply envelope."""
        key = self._keys[key_index]
        body = xml.encode("utf-8")
        prefix = random_prefix if random_prefix is not None else os.urandom(RANDOM_PREFIX)
        if len(prefix) != RANDOM_PREFIX:
            raise ValueError("random prefix must be 16 bytes")
        data = prefix + struct.pack(">I", len(body)) + body + self.app_id.encode("utf-8")
        pad = PAD_BLOCK - len(data) % PAD_BLOCK
        data += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
        encrypted = base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii")
        return encrypted, sha1_signature(self.token, timestamp, nonce, encrypted)
