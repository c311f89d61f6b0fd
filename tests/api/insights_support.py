"""Helpers of the insights tests. Every cardholder-side call (post a message, read the
transcript, post a survey) goes through `chat` / `transcript` / `post_survey` here, so a change
of the chat API's security (issue 16: a conversation token) is adapted in one place."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def chat(client: TestClient, user_id: str, text: str, channel: str = "web") -> dict[str, Any]:
    """POST /api/v1/chat; the JSON body (must be 200)."""
    resp = client.post("/api/v1/chat", json={"user_id": user_id, "text": text,
                                             "channel": channel})
    assert resp.status_code == 200, resp.text
    return resp.json()


def transcript(client: TestClient, conversation_id: str) -> list[dict[str, Any]]:
    """The cardholder's transcript lines."""
    resp = client.get(f"/api/v1/chat/{conversation_id}/messages")
    assert resp.status_code == 200, resp.text
    return resp.json()["messages"]


def post_survey(client: TestClient, conversation_id: str, score: int,
                comment: str | None = None) -> dict[str, Any]:
    resp = client.post(f"/api/v1/chat/{conversation_id}/survey",
                       json={"score": score, "comment": comment})
    assert resp.status_code == 200, resp.text
    return resp.json()


def goodbye_rasa(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A fake Rasa: 再见 runs action_goodbye (meta.end), anything else is a KB answer."""
    sender, text = body["sender"], body["message"]
    if "再见" in text or "拜拜" in text:
        return [{"recipient_id": sender, "text": "感谢您的咨询，祝您生活愉快，再见！"},
                {"recipient_id": sender, "custom": {"meta": {"outcome": "answered",
                                                             "end": "goodbye"}}}]
    if "转人工" in text:
        return [{"recipient_id": sender, "text": "好的，正在为您转接人工客服，请稍候……"},
                {"recipient_id": sender, "custom": {"meta": {
                    "outcome": "handoff", "handoff": {"reason": "requested",
                                                      "group": "general", "priority": False}}}}]
    if "天气" in text:
        return [{"recipient_id": sender, "text": "抱歉，我没听懂。"},
                {"recipient_id": sender, "custom": {"meta": {"outcome": "fallback"}}}]
    return [{"recipient_id": sender, "text": f"小卡回答：{text}"},
            {"recipient_id": sender, "custom": {"meta": {
                "outcome": "answered", "kb": {"entry_id": "bill-001", "score": 0.95,
                                              "release": 1}}}}]
