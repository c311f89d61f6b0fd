"""Rasa down: /health says so with 503 and the chat still answers, in degraded mode from the
KB, within the bot budget; once Rasa is back the conversation goes to Rasa again.

Named to run last in the e2e session: it stops and restarts the shared Rasa process.
"""

from __future__ import annotations

import time

import httpx
import pytest

from api.core.config import Settings

pytestmark = pytest.mark.e2e


def test_rasa_down_is_reported_and_chat_apologises(stack, chat) -> None:
    stack.stop("rasa")
    try:
        health = httpx.get(f"{stack.base_url}/health", timeout=30)
        assert health.status_code == 503
        assert health.json()["components"]["rasa"]["state"] == "down"

        budget = Settings().bot_budget_seconds
        for text in ("信用卡年费怎么收", "帮我把额度调到五万"):
            started = time.monotonic()
            reply = chat("e2e-down", text)
            assert time.monotonic() - started < budget + 2
            assert reply["details"]["degraded"] is True
            assert reply["outcome"] in ("answered", "clarify", "fallback")
            assert reply["messages"]
    finally:
        stack.start("rasa")
        stack.wait_healthy()
    # back to Rasa (after the breaker's reset period, the next turn is the half-open probe)
    time.sleep(Settings().bot_breaker_reset_seconds)
    reply = chat("e2e-down", "你好")
    assert "degraded" not in reply["details"]
