"""Signatures and AES safe mode against the official algorithm (wechatpy) and its test vectors."""

from __future__ import annotations

import base64
import os

import pytest
import xmltodict
from pydantic import ValidationError
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from api.channels.wechat.crypto import (
    CryptoError,
    MessageCrypto,
    SignatureMismatch,
    decode_aes_key,
    sha1_signature,
    verify_signature,
)
from api.core.config import Settings

# The encryption sample of WeChat's message-encryption docs as used by wechatpy's own tests.
SAMPLE_TOKEN = "123456"
SAMPLE_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
SAMPLE_APP_ID = "wx49f0ab532d5d035a"
SAMPLE_ENCRYPT = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCr"
    "sTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXa"
    "G4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiM"
    "S6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQip"
    "vWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=")
SAMPLE_SIGNATURE = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
SAMPLE_TIMESTAMP = "1411525903"
SAMPLE_NONCE = "461056294"
SAMPLE_REPLY = """<xml>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[test]]></Content>
<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>
<ToUserName><![CDATA[messense]]></ToUserName>
<AgentID>1</AgentID>
<CreateTime>1411525903</CreateTime>
</xml>"""
SAMPLE_REPLY_ENCRYPT = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcB"
    "qGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0"
    "nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVb"
    "wbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGV"
    "Re3ypD3WeK2XeFYFMNMpatF9XiKzHo3")
SAMPLE_REPLY_SIGNATURE = "407518b7649e86ef23978113f92d27afa9296533"


def random_key() -> str:
    return base64.b64encode(os.urandom(32)).decode().rstrip("=")


def test_official_sample_decrypts() -> None:
    crypto = MessageCrypto(SAMPLE_TOKEN, SAMPLE_APP_ID, [SAMPLE_KEY])
    xml, index = crypto.decrypt(SAMPLE_ENCRYPT, SAMPLE_SIGNATURE, SAMPLE_TIMESTAMP, SAMPLE_NONCE)
    fields = xmltodict.parse(xml)["xml"]
    assert index == 0
    assert fields["Content"] == "test" and fields["FromUserName"] == "messense"


def test_official_sample_encrypts_byte_for_byte() -> None:
    crypto = MessageCrypto(SAMPLE_TOKEN, SAMPLE_APP_ID, [SAMPLE_KEY])
    encrypted, signature = crypto.encrypt(SAMPLE_REPLY, SAMPLE_TIMESTAMP, SAMPLE_NONCE,
                                          random_prefix=b"1234567890123456")
    assert encrypted == SAMPLE_REPLY_ENCRYPT
    assert signature == SAMPLE_REPLY_SIGNATURE


def test_round_trips_with_wechatpy_both_ways() -> None:
    key, token, app_id = random_key(), "tok", "wx0123456789abcdef"
    ours = MessageCrypto(token, app_id, [key])
    theirs = WeChatCrypto(token, key, app_id)
    message = "<xml><Content><![CDATA[信用卡丢了怎么办 🙂]]></Content></xml>"

    envelope = xmltodict.parse(theirs.encrypt_message(message, "n1", "1700000000"))["xml"]
    xml, _ = ours.decrypt(envelope["Encrypt"], envelope["MsgSignature"], "1700000000", "n1")
    assert xml == message

    encrypted, signature = ours.encrypt(message, "1700000001", "n2")
    assert theirs.decrypt_message({"Encrypt": encrypted}, signature, "1700000001",
                                  "n2") == message


def test_previous_key_still_decrypts_and_unknown_key_does_not() -> None:
    current, previous, stranger = random_key(), random_key(), random_key()
    ours = MessageCrypto("tok", "wxapp", [current, previous])
    for key, expected_index in ((current, 0), (previous, 1)):
        env = xmltodict.parse(WeChatCrypto("tok", key, "wxapp").encrypt_message(
            "<xml/>", "n", "1700000000"))["xml"]
        assert ours.decrypt(env["Encrypt"], env["MsgSignature"], "1700000000",
                            "n") == ("<xml/>", expected_index)
    env = xmltodict.parse(WeChatCrypto("tok", stranger, "wxapp").encrypt_message(
        "<xml/>", "n", "1700000000"))["xml"]
    with pytest.raises(CryptoError):
        ours.decrypt(env["Encrypt"], env["MsgSignature"], "1700000000", "n")


def test_reply_uses_the_key_that_decrypted_the_request() -> None:
    current, previous = random_key(), random_key()
    ours = MessageCrypto("tok", "wxapp", [current, previous])
    encrypted, signature = ours.encrypt("<xml/>", "1", "n", key_index=1)
    assert WeChatCrypto("tok", previous, "wxapp").decrypt_message(
        {"Encrypt": encrypted}, signature, "1", "n") == "<xml/>"


def test_tampering_is_detected() -> None:
    key = random_key()
    ours = MessageCrypto("tok", "wxapp", [key])
    env = xmltodict.parse(WeChatCrypto("tok", key, "wxapp").encrypt_message(
        "<xml/>", "n", "1700000000"))["xml"]
    with pytest.raises(SignatureMismatch):
        ours.decrypt(env["Encrypt"], "0" * 40, "1700000000", "n")
    with pytest.raises(SignatureMismatch):  # same body, other nonce
        ours.decrypt(env["Encrypt"], env["MsgSignature"], "1700000000", "m")
    # a re-signed but altered ciphertext: the padding / length / app id checks catch it
    raw = bytearray(base64.b64decode(env["Encrypt"]))
    raw[-1] ^= 0xFF
    altered = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(CryptoError):
        ours.decrypt(altered, sha1_signature("tok", "1700000000", "n", altered), "1700000000",
                     "n")
    # encrypted for another app id
    env = xmltodict.parse(WeChatCrypto("tok", key, "wxother").encrypt_message(
        "<xml/>", "n", "1700000000"))["xml"]
    with pytest.raises(CryptoError):
        ours.decrypt(env["Encrypt"], env["MsgSignature"], "1700000000", "n")
    bad = "not base64!!"
    with pytest.raises(CryptoError):
        ours.decrypt(bad, sha1_signature("tok", "1", "n", bad), "1", "n")


def test_url_signature_matches_the_reference() -> None:
    signature = sha1_signature("tok", "1700000000", "12345")
    check_signature("tok", signature, "1700000000", "12345")  # wechatpy agrees
    assert verify_signature("tok", "1700000000", "12345", signature)
    assert verify_signature("tok", "1700000000", "12345", signature.upper())
    assert not verify_signature("tok", "1700000001", "12345", signature)
    assert not verify_signature("other", "1700000000", "12345", signature)
    for junk in ("", "xyz", "签名" * 20, signature + "0"):
        assert not verify_signature("tok", "1700000000", "12345", junk)
    with pytest.raises(InvalidSignatureException):
        check_signature("tok", "0" * 40, "1700000000", "12345")


def test_aes_key_format_is_validated() -> None:
    assert len(decode_aes_key(SAMPLE_KEY)) == 32
    for bad in ("", "short", SAMPLE_KEY + "A", "!" * 43):
        with pytest.raises(ValueError):
            decode_aes_key(bad)
    with pytest.raises(ValidationError, match="WECHAT_AES_KEY"):
        Settings(wechat_aes_key="too-short")
    with pytest.raises(ValidationError, match="WECHAT_AES_KEY_PREVIOUS"):
        Settings(wechat_aes_key_previous="!" * 43)
    assert Settings(wechat_aes_key_previous="").wechat_aes_key_previous == ""


def test_production_refuses_development_wechat_secrets() -> None:
    with pytest.raises(ValidationError) as exc:
        Settings(app_env="production", rasa_token="r" * 32, internal_api_token="i" * 32,
                 jwt_secret="j" * 40)
    message = str(exc.value)
    assert "wechat_token" in message and "wechat_app_secret" in message
    assert "wechat_aes_key" in message


def test_what_wechatpy_lacks_stays_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15 keeps, in front of wechatpy: constant-time signature compares (wechatpy uses
    `!=`), 40-hex signatures only, and the random prefix from the OS's CSPRNG (wechatpy's
    `random_string` uses `random`)."""
    import api.channels.wechat.crypto as crypto

    compared: list[tuple[str, str]] = []
    real_compare = crypto.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(crypto.hmac, "compare_digest", spy)
    good = sha1_signature("tok", "1", "n")
    assert verify_signature("tok", "1", "n", good.upper())
    assert compared == [(good, good)]
    assert not verify_signature("tok", "1", "n", good[:-1])  # not 40 hex: never compared
    assert not verify_signature("tok", "1", "n", good[:-1] + "g")
    assert len(compared) == 1

    key = random_key()
    ours = MessageCrypto("tok", "wxapp", [key])
    env = xmltodict.parse(WeChatCrypto("tok", key, "wxapp").encrypt_message(
        "<xml/>", "n", "1700000000"))["xml"]
    assert ours.decrypt(env["Encrypt"], env["MsgSignature"], "1700000000", "n")[0] == "<xml/>"
    assert len(compared) == 2  # msg_signature went through the constant-time compare too

    drawn: list[int] = []

    def urandom(n: int) -> bytes:
        drawn.append(n)
        return b"\x01" * n

    monkeypatch.setattr(crypto.os, "urandom", urandom)
    encrypted, signature = ours.encrypt("<xml/>", "1", "n")
    assert drawn == [16]
    assert base64.b64decode(encrypted)  # and wechatpy still decrypts it
    assert WeChatCrypto("tok", key, "wxapp").decrypt_message(
        {"Encrypt": encrypted}, signature, "1", "n") == "<xml/>"
