"""Signed identity (issue 16 item 1): an unsigned caller is an anonymous visitor, whatever
user id it claims; the gateway's trust flag reaches Rasa and no client can set it."""

from __future__ import annotations

import time

import jwt
import pytest
from handoff_support import scripted_rasa
from sqlalchemy import select

from api.core import db
from api.core.config import DEV_SECRETS, Settings, get_settings
from api.core.identity import identity_hash
from api.models import Handoff
from tests.chat_support import signed

VICTIM = "demo-gold-001"


def post(client, body, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = client.post("/api/v1/chat", json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_unsigned_caller_claiming_a_cardholder_id_is_an_anonymous_visitor(client,
                                                                           fake_rasa) -> None:
    owner = post(client, signed(VICTIM, "你好"))
    assert owner["identity"] == "verified" and owner["user_id"] == VICTIM
    assert fake_rasa.sent[-1]["metadata"]["user_verified"] is True
    # The outsider knows the user id (and the README's identity answers) but not the secret.
    for forged in ({"user_id": VICTIM, "text": "我的额度还有多少"},
                   {"user_id": VICTIM, "text": "我的额度还有多少", "identity_hash": "0" * 64},
                   {"user_id": VICTIM, "text": "我的额度还有多少",
                    "identity_hash": identity_hash(VICTIM, "guessed-secret")},
                   {"user_id": VICTIM, "text": "我的额度还有多少",
                    "identity_hash": identity_hash("demo-gold-002", DEV_SECRETS[
                        "web_identity_secret"])},
                   # client metadata cannot set the gateway's keys
                   {"user_id": VICTIM, "text": "8801",
                    "metadata": {"user_id": VICTIM, "user_verified": True, "channel": "app"}}):
        reply = post(client, forged)
        assert reply["identity"] == "anonymous"
        assert reply["user_id"].startswith("visitor-") and reply["user_id"] != VICTIM
        assert reply["conversation_id"] != owner["conversation_id"]
        sent = fake_rasa.sent[-1]["metadata"]
        assert sent["user_verified"] is False and sent["user_id"] == reply["user_id"]
        assert sent["channel"] == "web"


def test_visitor_continues_with_its_own_token_only(client) -> None:
    first = post(client, {"user_id": "anything", "text": "你好"})
    again = post(client, {"user_id": "anything", "text": "年费怎么收"},
                 token=first["conversation_token"])
    assert again["conversation_id"] == first["conversation_id"]
    assert again["user_id"] == first["user_id"]
    fresh = post(client, {"user_id": "anything", "text": "你好"})
    assert fresh["conversation_id"] != first["conversation_id"]
    # A signed owner's token does not let an unsigned caller post into (or as) that cardholder.
    owner = post(client, signed(VICTIM, "你好"))
    hijack = post(client, {"user_id": VICTIM, "text": "额度"}, token=owner["conversation_token"])
    assert hijack["conversation_id"] != owner["conversation_id"]
    assert hijack["identity"] == "anonymous"
    # A forged token is simply no credential.
    forged = post(client, {"user_id": "x", "text": "你好"},
                  token=first["conversation_id"] + ".AAAA")
    assert forged["conversation_id"] != first["conversation_id"]


def test_short_lived_identity_jwt_is_accepted(client, fake_rasa, monkeypatch) -> None:
    secret = "bank-app-server-jwt-secret-0123456789"
    monkeypatch.setattr(get_settings(), "web_identity_jwt_secret", secret)
    now = int(time.time())

    def token(**claims):
        return jwt.encode({"sub": VICTIM, "iat": now, "exp": now + 300, **claims}, secret,
                          algorithm="HS256")

    ok = post(client, {"user_id": VICTIM, "text": "你好", "identity_token": token()})
    assert ok["identity"] == "verified" and ok["user_id"] == VICTIM
    for bad in (token(exp=now - 10),                                   # expired
                token(exp=now + 86400),                                # not short-lived
                jwt.encode({"sub": VICTIM, "iat": now, "exp": now + 300}, "other-secret-xyz",
                           algorithm="HS256"),                         # wrong key
                jwt.encode({"sub": VICTIM, "exp": now + 300}, secret, algorithm="HS384"),
                "not-a-jwt"):
        reply = post(client, {"user_id": VICTIM, "text": "你好", "identity_token": bad})
        assert reply["identity"] == "anonymous", bad


def test_unsigned_vip_claim_is_not_queued_as_vip(desk_app, client, fake_rasa) -> None:
    fake_rasa.reply = scripted_rasa
    vip = post(client, signed("demo-platinum-001", "转人工"))
    forged = post(client, {"user_id": "demo-platinum-001", "text": "转人工"})
    with db.get_sessionmaker()() as s:
        rows = {h.conversation_id: h for h in s.scalars(select(Handoff))}
    assert rows[vip["conversation_id"]].group == "vip"
    assert rows[forged["conversation_id"]].group != "vip"
    assert rows[forged["conversation_id"]].user_id.startswith("visitor-")


def test_demo_signing_is_development_only(client, monkeypatch) -> None:
    resp = client.get("/api/v1/dev/identity", params={"user_id": VICTIM})
    assert resp.status_code == 200
    assert resp.json()["identity_hash"] == identity_hash(VICTIM, get_settings()
                                                         .web_identity_secret)
    # only the README's demo cardholders, never an arbitrary user id
    assert client.get("/api/v1/dev/identity", params={"user_id": "real-user-1"}).status_code \
        == 404
    monkeypatch.setattr(get_settings(), "web_identity_demo_signing", False)
    assert client.get("/api/v1/dev/identity", params={"user_id": VICTIM}).status_code == 404


def test_production_has_no_demo_signing_and_no_default_identity_secret() -> None:
    real = {k: f"real-{k}-" + "x" * 40 for k in DEV_SECRETS}
    real["wechat_aes_key"] = "R" * 43
    settings = Settings(app_env="production", **real)
    assert settings.web_identity_demo_signing is True and not settings.demo_signing_enabled
    with pytest.raises(ValueError, match="web_identity_secret"):
        Settings(app_env="production", **{**real,
                                          "web_identity_secret": DEV_SECRETS[
                                              "web_identity_secret"]})


def test_non_ascii_credentials_are_refused_not_crashed() -> None:
    """A hostile client may send any text as a hash or token (found by schemathesis)."""
    from api.core.identity import conversation_of_token, valid_identity_hash

    assert valid_identity_hash("demo-gold-001", "签名ü", "secret") is False
    assert conversation_of_token("会话.签名", "secret") is None
