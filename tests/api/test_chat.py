"""POST /api/v1/chat contract, bad input, persistence and feedback."""

from __future__ import annotations

from sqlalchemy import select

from api.core import db
from api.models import KBEvent, Message
from knowledge_base.search.service import KBNotReady
from tests.chat_support import owner, signed


def meta(outcome: str, **extra):
    return {"custom": {"meta": {"outcome": outcome, **extra}}}


def test_contract_shape_and_outcome_from_meta(client, fake_rasa) -> None:
    fake_rasa.reply = lambda body: [
        {"recipient_id": body["sender"], "text": "请立即挂失", "buttons": [
            {"title": "立即挂失", "payload": "/report_lost_card"}]},
        meta("answered", kb={"entry_id": "lost-001", "score": 0.97, "release": 1}),
    ]
    resp = client.post("/api/v1/chat", json=signed("u1", "卡丢了", channel="web"))
    assert resp.status_code == 200
    body = resp.json()
    assert body["outcome"] == "answered"
    assert body["messages"][0]["type"] == "buttons"
    assert body["messages"][0]["buttons"] == [{"title": "立即挂失", "payload": "/report_lost_card"}]
    assert all("custom" not in m for m in body["messages"])
    assert isinstance(body["conversation_id"], str)
    # Rasa got the conversation id as sender and the user/channel as metadata
    sent = fake_rasa.sent[-1]
    assert sent["sender"] == body["conversation_id"]
    assert sent["metadata"]["user_id"] == "u1" and sent["metadata"]["channel"] == "web"
    assert sent["metadata"]["user_verified"] is True
    assert body["identity"] == "verified" and body["user_id"] == "u1"
    assert body["conversation_token"].startswith(body["conversation_id"] + ".")


def test_default_outcome_is_answered_and_text_message(client) -> None:
    body = client.post("/api/v1/chat", json={"user_id": "u1", "text": "你好"}).json()
    assert body["outcome"] == "answered"
    assert body["messages"][0] == {"type": "text", "text": "您好", "id": body["messages"][0]["id"]}


def test_bad_input_is_rejected_and_nothing_stored(client, fake_rasa) -> None:
    bad = [
        {"user_id": "u1", "text": ""},
        {"user_id": "u1", "text": "  \n "},
        {"user_id": "u1", "text": "字" * 2001},
        {"user_id": "", "text": "你好"},
        {"user_id": "u1", "text": "你好", "channel": "fax"},
        {"text": "你好"},
        ["not", "an", "object"],
    ]
    for body in bad:
        resp = client.post("/api/v1/chat", json=body)
        assert resp.status_code == 422, (body, resp.text)
        detail = resp.json()["detail"]
        assert detail["message"] and detail["message_en"]
    resp = client.post("/api/v1/chat", content=b"{oops",
                       headers={"content-type": "application/json"})
    assert resp.status_code == 422 and resp.json()["detail"]["code"] == "invalid_json"
    assert fake_rasa.sent == []
    with db.get_sessionmaker()() as s:
        assert s.scalars(select(Message)).all() == []


def test_exactly_2000_chars_is_accepted(client) -> None:
    resp = client.post("/api/v1/chat", json={"user_id": "u1", "text": "字" * 2000})
    assert resp.status_code == 200


def test_rasa_down_gives_apology_and_keeps_user_message(client, fake_rasa) -> None:
    fake_rasa.down = True

    class KBLoading:  # neither the bot nor the KB (degraded mode: tests/api/test_degraded.py)
        def search(self, *args, **kwargs):
            raise KBNotReady("loading")

    client.app.state.gateway.kb = KBLoading()
    text = "我的卡号6222021234567890128丢了"
    resp = client.post("/api/v1/chat", json={"user_id": "u9", "text": text})
    assert resp.status_code == 200
    body = resp.json()
    assert body["outcome"] == "unavailable"
    assert "抱歉" in body["messages"][0]["text"]
    with db.get_sessionmaker()() as s:
        rows = s.scalars(select(Message).order_by(Message.id)).all()
    assert [r.sender for r in rows] == ["user", "system"]
    # transcripts are stored with PII masked
    assert "6222021234567890128" not in rows[0].text


def test_kb_event_recorded_and_feedback(client, fake_rasa) -> None:
    fake_rasa.reply = lambda body: [
        {"recipient_id": body["sender"], "text": "年费规则……"},
        meta("answered", kb={"entry_id": "fee-001", "score": 0.95, "release": 1}),
    ]
    body = client.post("/api/v1/chat", json=signed("u2", "年费怎么收")).json()
    event_id = body["details"]["kb_event_id"]
    conv = body["conversation_id"]
    resp = client.post(f"/api/v1/chat/{conv}/feedback", json={"kb_event_id": event_id,
                                                               "helpful": False},
                       headers={"Authorization": f"Bearer {body['conversation_token']}"})
    assert resp.status_code == 200
    with db.get_sessionmaker()() as s:
        event = s.get(KBEvent, event_id)
        assert event.entry_id == "fee-001" and event.helpful is False and event.score == 0.95
    other = client.post("/api/v1/chat/other-conv/feedback", json={"kb_event_id": event_id,
                                                                   "helpful": True},
                        headers=owner("other-conv"))
    assert other.status_code == 404


def test_health_is_503_when_a_component_is_down(client, fake_rasa) -> None:
    fake_rasa.down = True
    resp = client.get("/health")
    assert resp.status_code == 503
    assert resp.json()["components"]["rasa"]["state"] == "down"


def test_chat_page_and_docs_are_served(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "信用卡智能客服" in page.text
    assert client.get("/docs").status_code == 200
    assert "/api/v1/chat" in client.get("/openapi.json").json()["paths"]
