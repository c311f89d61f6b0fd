"""Issue 16/17: an unsigned flood hits a limit. Each unsigned message without a credential is a
new server-issued visitor, so the per-user and per-conversation limits never build up for it;
RATE_LIMIT_CHAT_NEW_VISITORS_PER_IP counts those first messages per client address. The client
address is the peer, or behind a TRUSTED_PROXIES proxy the one it forwarded (never what an
untrusted peer writes into X-Forwarded-For)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.core import db
from api.core.config import get_settings
from api.models import Conversation, Message
from tests.chat_support import signed

PROXY = "10.20.0.10"  # the nginx in front, as TRUSTED_PROXIES names it


def unsigned(i: int) -> dict[str, Any]:
    """What a script sends: a user id of its choosing, no signature, no conversation token."""
    return {"user_id": "demo-gold-001", "text": f"第{i}条：我的额度是多少"}


def assert_429(resp) -> None:
    assert resp.status_code == 429, resp.text
    detail = resp.json()["detail"]
    assert detail["code"] == "rate_limited"
    assert "太频繁" in detail["message"] and "Too many" in detail["message_en"]
    assert 1 <= int(resp.headers["Retry-After"]) <= 60


def stored() -> tuple[int, int]:
    with db.get_sessionmaker()() as s:
        return (s.scalar(select(func.count()).select_from(Conversation)),
                s.scalar(select(func.count()).select_from(Message)))


def test_unsigned_flood_gets_429_and_nothing_of_it_is_stored(client, fake_rasa) -> None:
    limit = int(get_settings().rate_limit_chat_new_visitors_per_ip.split("/")[0])
    assert limit < int(get_settings().rate_limit_chat_per_ip.split("/")[0])
    codes = [client.post("/api/v1/chat", json=unsigned(i)).status_code for i in range(limit)]
    assert codes == [200] * limit
    conversations, messages = stored()
    assert conversations == limit  # a new visitor and conversation for every message
    for i in range(limit, limit + 4):
        assert_429(client.post("/api/v1/chat", json=unsigned(i)))
    assert stored() == (conversations, messages)  # the refused messages left no trace
    assert len(fake_rasa.sent) == limit  # and never reached the bot


def test_a_flood_does_not_shut_out_cardholders_or_visitors_who_keep_their_credential(
        client, monkeypatch) -> None:
    monkeypatch.setattr(get_settings(), "rate_limit_chat_new_visitors_per_ip", "2/minute")
    first = client.post("/api/v1/chat", json=unsigned(0)).json()
    visitor = {"Authorization": f"Bearer {first['conversation_token']}"}
    assert client.post("/api/v1/chat", json=unsigned(1)).status_code == 200
    assert_429(client.post("/api/v1/chat", json=unsigned(2)))
    # the same address: a signed cardholder is not counted by this limit at all ...
    for i in range(5):
        resp = client.post("/api/v1/chat", json=signed("demo-gold-001", f"第{i}条"))
        assert resp.status_code == 200, resp.text
        assert resp.json()["identity"] == "verified"
    # ... nor a visitor who continues their conversation with its token
    for i in range(3):
        resp = client.post("/api/v1/chat", json=unsigned(10 + i), headers=visitor)
        assert resp.status_code == 200, resp.text
        assert resp.json()["conversation_id"] == first["conversation_id"]


@pytest.fixture()
def behind_proxy(monkeypatch, request) -> TestClient:
    """The app with TRUSTED_PROXIES=PROXY (read when the app is built, like in production)."""
    monkeypatch.setenv("TRUSTED_PROXIES", PROXY)
    app_client: TestClient = request.getfixturevalue("client")
    monkeypatch.setattr(get_settings(), "rate_limit_chat_new_visitors_per_ip", "3/minute")
    return app_client


def from_peer(app_client: TestClient, peer: str) -> TestClient:
    """Requests to the already started app whose TCP peer is `peer`."""
    return TestClient(app_client.app, client=(peer, 40000))


def test_clients_behind_the_trusted_proxy_get_a_bucket_each(behind_proxy) -> None:
    nginx = from_peer(behind_proxy, PROXY)

    def via_nginx(client_ip: str, i: int, sent_by_client: str = "") -> int:
        # nginx's $proxy_add_x_forwarded_for appends the peer it saw to what the client sent
        forwarded = f"{sent_by_client}, {client_ip}" if sent_by_client else client_ip
        return nginx.post("/api/v1/chat", json=unsigned(i),
                          headers={"X-Forwarded-For": forwarded}).status_code

    assert [via_nginx("198.51.100.1", i) for i in range(3)] == [200, 200, 200]
    assert via_nginx("198.51.100.1", 3) == 429
    # another client behind the same nginx has its own bucket
    assert [via_nginx("198.51.100.2", i) for i in range(3)] == [200, 200, 200]
    # the first one cannot escape by sending an X-Forwarded-For of its own: nginx appends the
    # real address, and that right-most untrusted hop is the one counted
    assert via_nginx("198.51.100.1", 4, sent_by_client="203.0.113.77") == 429


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(behind_proxy) -> None:
    direct = from_peer(behind_proxy, "203.0.113.5")  # reaches the API around the proxy
    codes = [direct.post("/api/v1/chat", json=unsigned(i),
                         headers={"X-Forwarded-For": f"198.51.100.{50 + i}"}).status_code
             for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]


def test_without_trusted_proxies_even_a_loopback_peer_cannot_choose_its_address(
        client, monkeypatch) -> None:
    # (uvicorn alone would believe X-Forwarded-For from 127.0.0.1: `python -m api` turns that
    # off, next test)
    monkeypatch.setattr(get_settings(), "rate_limit_chat_new_visitors_per_ip", "2/minute")
    local = from_peer(client, "127.0.0.1")
    codes = [local.post("/api/v1/chat", json=unsigned(i),
                        headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
             for i in range(3)]
    assert codes == [200, 200, 429]


def test_the_server_leaves_forwarded_headers_to_the_app(monkeypatch) -> None:
    import api.__main__ as entry

    monkeypatch.delenv("API_SERVING_LOCK", raising=False)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(entry.uvicorn, "run", lambda *a, **kw: calls.append(kw))
    entry.serve()
    assert calls and calls[0]["proxy_headers"] is False
