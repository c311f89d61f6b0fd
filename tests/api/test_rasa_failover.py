"""Failover of the Rasa client to the warm standby (`make run` starts two Rasa servers on one
tracker store): a primary that cannot be reached is skipped within the same call, a message
that may have reached a server is never sent twice, the primary takes the traffic back once it
answers, and /health shows each server.

The dead server is a real loopback port nobody listens on (a real "connection refused"); the
live ones are scripted transports (tests/api/conftest.py's FakeRasa).
"""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from api.conversation.rasa_client import RasaClient, RasaUnavailable
from api.core.config import get_settings
from tests.api.conftest import FakeRasa


def _dead_url() -> str:
    """A loopback URL with nothing listening (bound, closed: the port is free)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _settings(**update):
    base = get_settings()
    return base.model_copy(update={"bot_budget_seconds": 2.0, "bot_breaker_failures": 2,
                                   "bot_breaker_reset_seconds": 0.2, **update})


def _client(fake: FakeRasa, base_url: str = "http://standby") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(fake.handler), base_url=base_url)


def test_a_dead_primary_is_skipped_within_the_same_call() -> None:
    standby = FakeRasa()
    rasa = RasaClient(_settings(), httpx.AsyncClient(base_url=_dead_url(), timeout=5),
                      standby_client=_client(standby))

    async def go() -> list[list[dict]]:
        try:
            return [await rasa.send(f"u{i}", "年费怎么收", {}) for i in range(5)]
        finally:
            await rasa.aclose()

    started = time.monotonic()
    replies = asyncio.run(go())
    assert time.monotonic() - started < 2.0  # refused at once, never the budget
    assert all(r and r[0]["text"] == "您好" for r in replies)
    assert [b["sender"] for b in standby.sent] == ["u0", "u1", "u2", "u3", "u4"]
    assert rasa.failovers == 5
    assert rasa.breaker.state == "closed"  # the bot as a whole never failed


def test_a_message_that_may_have_reached_the_primary_is_not_sent_again() -> None:
    """A primary that accepted the request and then timed out or failed may have applied the
    turn: the standby must not apply it a second time; after enough such failures the primary
    is skipped (its own breaker) and the standby takes the next messages."""
    primary, standby = FakeRasa(), FakeRasa()
    calls = {"n": 0}

    async def frozen(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        await asyncio.sleep(5)
        return primary.handler(request)

    settings = _settings(bot_budget_seconds=0.2, bot_breaker_failures=2,
                         bot_breaker_reset_seconds=30)
    rasa = RasaClient(settings, httpx.AsyncClient(transport=httpx.MockTransport(frozen),
                                                  base_url="http://primary"),
                      standby_client=_client(standby))

    async def go() -> list[str]:
        out = []
        try:
            for i in range(4):
                try:
                    await rasa.send(f"u{i}", "年费怎么收", {})
                    out.append("ok")
                except RasaUnavailable:
                    out.append("unavailable")
        finally:
            await rasa.aclose()
        return out

    assert asyncio.run(go()) == ["unavailable", "unavailable", "ok", "ok"]
    assert calls["n"] == 2  # skipped once its breaker opened
    assert [b["sender"] for b in standby.sent] == ["u2", "u3"]  # u0, u1 never re-sent


def test_server_errors_are_not_re_sent_either() -> None:
    standby = FakeRasa()

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": "boom"})

    rasa = RasaClient(_settings(), httpx.AsyncClient(transport=httpx.MockTransport(broken),
                                                     base_url="http://primary"),
                      standby_client=_client(standby))

    async def go() -> None:
        try:
            with pytest.raises(RasaUnavailable, match="500"):
                await rasa.send("u1", "年费怎么收", {})
        finally:
            await rasa.aclose()

    asyncio.run(go())
    assert standby.sent == []


def test_the_primary_takes_the_traffic_back_once_it_answers() -> None:
    primary, standby = FakeRasa(), FakeRasa()
    primary.down = True  # raises ConnectError, like a refused connection
    rasa = RasaClient(_settings(), _client(primary, "http://primary"),
                      standby_client=_client(standby))

    async def go() -> None:
        try:
            for i in range(3):
                await rasa.send(f"down{i}", "年费怎么收", {})
            primary.down = False
            await asyncio.sleep(0.3)  # past the primary's breaker reset: one probe goes there
            for i in range(3):
                await rasa.send(f"back{i}", "年费怎么收", {})
        finally:
            await rasa.aclose()

    asyncio.run(go())
    assert [b["sender"] for b in standby.sent] == ["down0", "down1", "down2"]
    assert [b["sender"] for b in primary.sent] == ["back0", "back1", "back2"]


def test_both_servers_dead_is_unavailable_naming_both() -> None:
    rasa = RasaClient(_settings(), httpx.AsyncClient(base_url=_dead_url(), timeout=5),
                      standby_client=httpx.AsyncClient(base_url=_dead_url(), timeout=5))

    async def go() -> None:
        try:
            with pytest.raises(RasaUnavailable) as err:
                await rasa.send("u1", "年费怎么收", {})
            assert "primary" in str(err.value) and "standby" in str(err.value)
            with pytest.raises(RasaUnavailable, match="primary.*standby"):
                await rasa.status()
        finally:
            await rasa.aclose()

    asyncio.run(go())


def test_health_is_up_on_the_standby_and_shows_each_server(client, fake_rasa) -> None:
    settings = get_settings()
    standby = FakeRasa()
    rasa = RasaClient(settings, _client(fake_rasa, settings.rasa_url),
                      standby_client=_client(standby))
    client.app.state.rasa = rasa
    client.app.state.gateway._rasa = rasa
    fake_rasa.down = True
    body = client.get("/health").json()
    component = body["components"]["rasa"]
    assert component["state"] == "up"
    assert component["servers"]["primary"]["state"] == "down"
    assert component["servers"]["standby"]["state"] == "up"
    reply = client.post("/api/v1/chat", json={"user_id": "fo-1", "text": "年费怎么收"}).json()
    assert not reply["details"].get("degraded")  # answered by the standby bot
    assert standby.sent and standby.sent[-1]["message"] == "年费怎么收"
    assert client.get("/health").json()["components"]["rasa"]["failovers"] >= 1
    standby.down = True
    down = client.get("/health")
    assert down.status_code == 503
    assert down.json()["components"]["rasa"]["state"] == "down"
