"""Oversized and malformed bodies (issue 16 item 8) and the browser-side headers (item 5)."""

from __future__ import annotations

import pytest

from api.core.config import get_settings
from api.main import create_app
from tests.chat_support import signed


def test_oversized_bodies_get_413_and_reach_nothing(client, fake_rasa) -> None:
    limit = get_settings().max_body_bytes
    big = signed("demo-gold-001", "你好", metadata={"pad": "x" * (limit + 10)})
    for path in ("/api/v1/chat", "/api/v1/auth/token", "/api/v1/kb/entries"):
        resp = client.post(path, json=big)
        assert resp.status_code == 413, (path, resp.status_code)
        assert resp.json()["detail"]["code"] == "body_too_large"
        assert resp.json()["detail"]["message"] and resp.json()["detail"]["message_en"]
    # a lying or chunked body is counted as it arrives
    def chunks():
        for _ in range(limit // 1000 + 2):
            yield b"x" * 1000

    resp = client.post("/api/v1/chat", content=chunks(),
                       headers={"content-type": "application/json"})
    assert resp.status_code == 413
    assert fake_rasa.sent == []


@pytest.mark.parametrize("body", [
    b"", b"null", b"[]", b"\"text\"", b"{\"user_id\": 5, \"text\": []}",
    b"{\"user_id\": \"u\", \"text\": \"hi\", \"metadata\": []}",
    b"{\"user_id\": \"u\", \"text\": \"hi\", \"identity_hash\": 12}",
    b"{" * 5000, b"\xff\xfe\x00garbage", b"{\"user_id\": \"u\", \"text\": \"\\ud800\"}",
    b"{\"user_id\": \"" + b"u" * 200 + b"\", \"text\": \"hi\"}",
])
def test_malformed_chat_bodies_get_a_bilingual_4xx(client, fake_rasa, body: bytes) -> None:
    resp = client.post("/api/v1/chat", content=body, headers={"content-type": "application/json"})
    assert 400 <= resp.status_code < 500, (body[:40], resp.status_code, resp.text[:200])
    detail = resp.json()["detail"]
    assert detail["message"] and detail["message_en"]
    assert fake_rasa.sent == []


def test_pages_have_csp_nosniff_and_referrer_policy(client) -> None:
    for path in ("/", "/agent", "/ops", "/static/chat.js", "/api/v1/dev/identity?user_id=x"):
        resp = client.get(path)
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        csp = resp.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'self'" in csp
        assert "unsafe-inline" not in csp and "object-src 'none'" in csp
    assert client.get("/api/v1/dev/identity?user_id=x").headers["cache-control"] == "no-store"
    # the service sets no cookie anywhere a cardholder or staff member goes
    for path in ("/", "/agent", "/ops", "/static/chat.js"):
        assert "set-cookie" not in client.get(path).headers


def test_frame_ancestors_and_cors_follow_the_allow_lists(monkeypatch, client) -> None:
    from fastapi.testclient import TestClient

    monkeypatch.setenv("ALLOWED_ORIGINS", "https://m.bank.example, https://app.bank.example")
    monkeypatch.setenv("FRAME_ANCESTORS", "https://m.bank.example")
    get_settings.cache_clear()
    app = create_app()
    with TestClient(app) as c:
        page = c.get("/")
        assert "frame-ancestors 'self' https://m.bank.example" in \
            page.headers["content-security-policy"]
        pre = c.options("/api/v1/chat", headers={
            "Origin": "https://m.bank.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "https://m.bank.example"
        assert "authorization" in pre.headers["access-control-allow-headers"].lower()
        evil = c.options("/api/v1/chat", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in evil.headers
        simple = c.get("/static/chat.js", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in simple.headers
    get_settings.cache_clear()


def test_without_allow_list_no_cross_origin_access(client) -> None:
    resp = client.options("/api/v1/chat", headers={
        "Origin": "https://m.bank.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in resp.headers


def test_unknown_paths_and_methods_get_the_bilingual_shape(client) -> None:
    """The router's own 404/405 (no route, wrong method) answer like every other 4xx."""
    for method, path, status, code in (
            ("GET", "/api/v1/no-such-endpoint", 404, "not_found"),
            ("GET", "/static/no-such-file.js", 404, "not_found"),
            ("DELETE", "/api/v1/chat", 405, "method_not_allowed"),
            ("GET", "/api/v1/auth/token", 405, "method_not_allowed"),
            # a cross-origin preflight with no allow-list is a plain OPTIONS: 405
            ("OPTIONS", "/api/v1/chat", 405, "method_not_allowed")):
        resp = client.request(method, path, headers={"Origin": "https://evil.example"})
        assert resp.status_code == status, (method, path, resp.status_code)
        detail = resp.json()["detail"]
        assert detail["code"] == code and detail["message"] and detail["message_en"], detail
        assert "access-control-allow-origin" not in resp.headers
    assert "POST" in client.delete("/api/v1/chat").headers["allow"]
    # the API's own errors keep their codes
    assert client.get("/api/v1/chat/x/messages").json()["detail"]["code"] == \
        "conversation_not_found"
