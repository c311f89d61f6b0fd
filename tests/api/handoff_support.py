"""Helpers for the handoff/auth API tests: a scripted Rasa that hands over, staff accounts.

Imported by the test modules (pytest puts tests/api on sys.path). The `client` and `fake_rasa`
fixtures come from tests/api/conftest.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

import migrations
from api.core import db
from api.models import StaffUser
from api.staff import create_user
from tests.chat_support import signed

# What the fake Rasa does with a message: (substring, handoff request) like actions/handoff.py.
HANDOFF_TRIGGERS = (
    ("盗刷", {"reason": "fraud_dispute", "group": "disputes", "priority": True}),
    ("投诉", {"reason": "complaint", "group": "general", "priority": False}),
    ("转人工", {"reason": "requested", "group": "general", "priority": False}),
    ("/none_of_these", {"reason": "clarify_rejected", "group": "general", "priority": False}),
)
PASSWORD = "pass-1234"


def desk_env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Environment for an app under test that exercises the desk, not retrieval.

    Call before the `client` fixture builds the app: own (migrated) card store, cheap bcrypt, no
    background loading of the embedding model and index (these tests never search the real
    KB; the suggestions test stands in for `kb.search`).
    """
    monkeypatch.setenv("CARD_DB_URL", f"sqlite:///{tmp_path}/cards.db")
    migrations.upgrade("cards", f"sqlite:///{tmp_path}/cards.db")
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    monkeypatch.setattr("knowledge_base.search.service.KnowledgeService.start_background",
                        lambda self: None)


def scripted_rasa(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Rasa's REST output: a handoff for the trigger words, else a KB answer."""
    text = body["message"]
    sender = body["sender"]
    for word, request in HANDOFF_TRIGGERS:
        if word in text:
            return [{"recipient_id": sender, "text": "好的，正在为您转接人工客服，请稍候……"},
                    {"recipient_id": sender,
                     "custom": {"meta": {"outcome": "handoff", "handoff": request}}}]
    return [{"recipient_id": sender, "text": f"小卡回答：{text}"},
            {"recipient_id": sender, "custom": {"meta": {
                "outcome": "answered",
                "kb": {"entry_id": "bill-001", "score": 0.91, "release": 1}}}}]


def make_staff(username: str, role: str = "agent", *, groups: list[str] | None = None,
               status: str = "online", capacity: int = 3, agent_no: str | None = None
               ) -> StaffUser:
    """Create a staff account (password PASSWORD) directly in the service database."""
    with db.get_sessionmaker()() as s:
        user = create_user(s, username, PASSWORD, role, display_name=username,
                           agent_no=agent_no, groups=groups, capacity=capacity)
        user.status = status
        s.commit()
        return user


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Bearer headers for a staff user."""
    resp = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def say(client: TestClient, user_id: str, text: str) -> dict[str, Any]:
    """POST /api/v1/chat and return the JSON body (must be 200)."""
    resp = client.post("/api/v1/chat", json=signed(user_id, text))
    assert resp.status_code == 200, resp.text
    return resp.json()


def rasa_events(fake_rasa: Any, conversation_id: str) -> list[dict[str, Any]]:
    """Events the gateway appended to one conversation's Rasa tracker, in order."""
    path = f"/conversations/{conversation_id}/tracker/events"
    return [e for p, events in fake_rasa.events if p == path for e in events]
