"""Rasa down: /health says so with 503 and the chat still answers with an apology.

Named to run last in the e2e session: it stops and restarts the shared Rasa process.
"""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_rasa_down_is_reported_and_chat_apologises(stack, chat) -> None:
    stack.stop("rasa")
    try:
        health = httpx.get(f"{stack.base_url}/health", timeout=30)
        assert health.status_code == 503
        assert health.json()["components"]["rasa"]["state"] == "down"

        reply = chat("e2e-down", "我的信用卡丢了怎么办")
        assert reply["outcome"] == "unavailable"
        assert "抱歉" in reply["messages"][0]["text"]
    finally:
        stack.start("rasa")
        stack.wait_healthy()
