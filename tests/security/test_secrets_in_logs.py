"""Secrets never in logs or URLs (issue 16 item 6): the redaction filter, and Rasa's HTTP API
called with a bearer JWT in a header (never `?token=`)."""

from __future__ import annotations

import asyncio
import io
import logging

import httpx
import jwt

from api.conversation.rasa_client import RasaClient
from api.core.config import Settings
from api.core.logging_setup import SecretRedactingFilter, configure_logging


def test_filter_redacts_configured_secrets_bearer_tokens_and_query_tokens() -> None:
    f = SecretRedactingFilter(["super-secret-rasa-token", "short"])
    cases = {
        "GET http://127.0.0.1:5005/status?token=super-secret-rasa-token": "super-secret",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc": "eyJhbGciOiJIUzI1NiJ9",
        "POST /x?access_token=AT-123&secret=S-456": "AT-123",
        '{"conversation_token": "cid.MACMACMAC", "password": "hunter2"}': "MACMACMAC",
        "identity_hash=deadbeef01": "deadbeef01",
    }
    for raw, secret in cases.items():
        assert secret not in f.redact(raw), raw
    assert "S-456" not in f.redact("POST /x?access_token=AT-123&secret=S-456")
    assert "hunter2" not in f.redact('{"password": "hunter2"}')
    assert f.redact("short words stay") == "short words stay"  # below the minimum length


def test_configured_logging_never_prints_a_secret(capsys) -> None:
    settings = Settings(rasa_token="rasa-token-for-this-test-123",
                        internal_api_token="internal-token-for-this-test-456")
    configure_logging("INFO", settings.secret_values())
    stream = io.StringIO()
    root = logging.getLogger()
    root.handlers[0].stream = stream  # type: ignore[attr-defined]
    logging.getLogger("httpx").info("HTTP Request: GET %s", "http://r/status?token=rasa-token-for-this-test-123")
    logging.getLogger("x").error("failed with %s", settings.internal_api_token)
    try:
        raise RuntimeError("boom rasa-token-for-this-test-123")
    except RuntimeError:
        logging.getLogger("x").exception("oops")
    out = stream.getvalue()
    assert "rasa-token-for-this-test-123" not in out
    assert "internal-token-for-this-test-456" not in out
    assert out.count("***") >= 3


def test_rasa_api_is_called_with_a_bearer_jwt_header_not_a_url_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"model_file": "m.tar.gz", "events": []})

    settings = Settings(rasa_token="rasa-secret-for-this-test-789")
    client = RasaClient(settings, httpx.AsyncClient(transport=httpx.MockTransport(handler),
                                                    base_url="http://rasa"))

    async def calls() -> None:
        await client.status()
        await client.tracker("conv-1")
        await client.append_events("conv-1", [])
        await client.aclose()

    asyncio.run(calls())
    assert len(seen) == 3
    for request in seen:
        assert "token" not in str(request.url) and settings.rasa_token not in str(request.url)
        scheme, _, token = request.headers["authorization"].partition(" ")
        assert scheme == "Bearer"
        claims = jwt.decode(token, settings.rasa_token, algorithms=["HS256"])
        assert claims["user"]["role"] == "admin" and claims["exp"] - claims["iat"] <= 300
