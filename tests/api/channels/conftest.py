"""WeChat channel fixtures: the fake WeChat API server, signed requests, a slow bot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from wechat_fakes import (
    AES_KEY,
    AES_KEY_PREVIOUS,
    APP_ID,
    APP_SECRET,
    TOKEN,
    FakeWeChat,
    Wx,
)

from api.conversation.rasa_client import RasaClient
from api.core.config import get_settings


@pytest.fixture()
def fake_wechat() -> Iterator[FakeWeChat]:
    server = FakeWeChat()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


@pytest.fixture()
def wechat_env(monkeypatch: pytest.MonkeyPatch, fake_wechat: FakeWeChat) -> None:
    """WeChat settings for the app under test (set before the `client` fixture builds it)."""
    env = {
        "WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": APP_ID, "WECHAT_APP_SECRET": APP_SECRET,
        "WECHAT_AES_KEY": AES_KEY, "WECHAT_AES_KEY_PREVIOUS": AES_KEY_PREVIOUS,
        "WECHAT_API_BASE": fake_wechat.url, "WECHAT_PASSIVE_TIMEOUT_SECONDS": "3.0",
        # a slow bot, not a failing one: degraded mode is tested in tests/api/test_degraded.py
        "BOT_BUDGET_SECONDS": "10",
        "WECHAT_TIMESTAMP_WINDOW_SECONDS": "300", "WECHAT_MAX_BODY_BYTES": "65536",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()


@pytest.fixture()
def wx(wechat_env: None, client: TestClient) -> Wx:
    return Wx(client)


@pytest.fixture()
def rasa_delay(client: TestClient, fake_rasa: Any) -> Callable[[float], None]:
    """`rasa_delay(seconds)`: FakeRasa answers the webhook only after that many seconds.

    Tests of a slow bot shrink the passive window to 1.0 s so that they run quickly; every other
    test keeps 3.0 s, wide enough for a loaded CI machine to answer passively.
    """

    def _set(seconds: float) -> None:
        async def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/webhooks/rest/webhook":
                await asyncio.sleep(seconds)
            return fake_rasa.handler(request)

        settings = get_settings()
        slow = RasaClient(settings, httpx.AsyncClient(transport=httpx.MockTransport(handler),
                                                      base_url=settings.rasa_url))
        app = client.app
        app.state.rasa = slow  # type: ignore[attr-defined]
        app.state.gateway._rasa = slow  # type: ignore[attr-defined]
        app.state.wechat.settings.wechat_passive_timeout_seconds = 1.0  # type: ignore[attr-defined]

    return _set
