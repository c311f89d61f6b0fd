"""Issue 2 done-when, through the real three processes."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_lost_card_question_is_answered_about_reporting_loss(chat, texts) -> None:
    reply = chat("e2e-u1", "我的信用卡丢了怎么办")
    assert reply["outcome"] == "answered", reply
    assert "挂失" in texts(reply)
    assert reply["conversation_id"]


def test_conversation_id_is_stable_per_user(chat) -> None:
    first = chat("e2e-u2", "你好")
    second = chat("e2e-u2", "年费怎么收")
    assert first["conversation_id"] == second["conversation_id"]
    assert chat("e2e-u3", "你好")["conversation_id"] != first["conversation_id"]


def test_out_of_scope_is_a_fallback_not_a_kb_answer(chat) -> None:
    reply = chat("e2e-u4", "帮我订一张明天去上海的火车票")
    assert reply["outcome"] == "fallback", reply


def test_bad_input_gets_clear_4xx(stack) -> None:
    url = f"{stack.base_url}/api/v1/chat"
    cases = [
        {"user_id": "u", "text": ""},
        {"user_id": "u", "text": "   \n\t "},
        {"user_id": "u", "text": "账" * 2001},
        {"user_id": "u"},
    ]
    for body in cases:
        resp = httpx.post(url, json=body, timeout=30)
        assert resp.status_code == 422, (body, resp.text)
        assert resp.json()["detail"]["message"]
    resp = httpx.post(url, content=b"not json{", headers={"content-type": "application/json"},
                      timeout=30)
    assert resp.status_code == 422
    assert resp.json()["detail"]["code"] == "invalid_json"


def test_health_reports_every_component(stack) -> None:
    body = httpx.get(f"{stack.base_url}/health", timeout=30).json()
    assert {"rasa", "actions", "retrieval"} <= set(body["components"])
    assert all(c["state"] == "up" for c in body["components"].values())


def test_rasa_api_requires_token(stack) -> None:
    assert httpx.get(f"{stack.rasa_url}/status", timeout=10).status_code == 401
