"""Leave a message + callback number: outside working hours and after a queue timeout; cancel."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from handoff_support import desk_env, login, make_staff, rasa_events, say, scripted_rasa
from sqlalchemy import select

from api.core import db
from api.core.config import get_settings
from api.core.vault import PiiVault
from api.models import Conversation, Handoff, Message, Ticket
from tests.chat_support import auth_frame, owner


@pytest.fixture()
def base_env(tmp_path, monkeypatch):
    desk_env(tmp_path, monkeypatch)


@pytest.fixture()
def closed_today(base_env, monkeypatch):
    """Working days that exclude today (in the desk's time zone): the desk is closed now."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).isoweekday()
    monkeypatch.setenv("HANDOFF_WEEKDAYS", ",".join(str(d) for d in range(1, 8) if d != today))
    monkeypatch.setenv("HANDOFF_HOURS", "09:00-18:00")


def state_of(cid: str) -> str:
    with db.get_sessionmaker()() as s:
        return s.get(Conversation, cid).state


def test_outside_working_hours_leads_to_a_ticket(closed_today, client, fake_rasa) -> None:
    fake_rasa.reply = scripted_rasa
    reply = say(client, "u-night", "转人工")
    cid = reply["conversation_id"]
    assert reply["outcome"] == "ticket"
    assert reply["details"]["ticket"]["cause"] == "outside_hours"
    assert "非人工服务时间" in reply["messages"][-1]["text"]
    assert "09:00-18:00" in reply["messages"][-1]["text"]
    assert state_of(cid) == "ticket"
    assert rasa_events(fake_rasa, cid)[-1]["event"] == "pause"
    sent_before = len(fake_rasa.sent)

    step = say(client, "u-night", "想申请提高额度，卡号 6222021234567890128")
    assert step["outcome"] == "ticket" and step["details"]["ticket"]["step"] == "phone"
    bad = say(client, "u-night", "12345")
    assert "号码格式不正确" in bad["messages"][0]["text"] and state_of(cid) == "ticket"
    done = say(client, "u-night", "138-1234-5678")
    assert done["details"]["state"] == "bot" and done["details"]["ticket"]["status"] == "open"
    assert "5678" in done["messages"][0]["text"] and "13812345678" not in \
        done["messages"][0]["text"]
    assert len(fake_rasa.sent) == sent_before  # the whole ticket flow stayed off Rasa
    assert rasa_events(fake_rasa, cid)[-1]["event"] == "resume"

    make_staff("day-agent")
    headers = login(client, "day-agent")
    tickets = client.get("/api/v1/agent/tickets", headers=headers).json()
    assert len(tickets) == 1
    ticket = tickets[0]
    assert ticket["callback_number"] == "13812345678" and ticket["cause"] == "outside_hours"
    assert "提高额度" in ticket["message"] and "6222021234567890128" not in ticket["message"]
    with db.get_sessionmaker()() as s:  # the transcript never holds the full numbers
        texts = [m.text for m in s.scalars(select(Message))]
    assert not any("13812345678" in t or "6222021234567890128" in t for t in texts)

    closed = client.post(f"/api/v1/agent/tickets/{ticket['id']}/close", headers=headers,
                         json={"note": "已回电"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert client.get("/api/v1/agent/tickets", headers=headers).json() == []
    again = client.post(f"/api/v1/agent/tickets/{ticket['id']}/close", headers=headers, json={})
    assert again.status_code == 409
    assert client.post("/api/v1/agent/tickets/999/close", headers=headers,
                       json={}).status_code == 404

    assert say(client, "u-night", "年费怎么收")["outcome"] == "answered"


def test_leaving_a_message_can_be_cancelled(closed_today, client, fake_rasa) -> None:
    fake_rasa.reply = scripted_rasa
    cid = say(client, "u-night2", "转人工")["conversation_id"]
    reply = say(client, "u-night2", "/cancel_ticket")
    assert reply["details"]["state"] == "bot" and state_of(cid) == "bot"
    with db.get_sessionmaker()() as s:
        assert s.scalars(select(Ticket)).one().status == "cancelled"


@pytest.fixture()
def ten_minutes(base_env, monkeypatch):
    monkeypatch.setenv("HANDOFF_QUEUE_TIMEOUT_SECONDS", "600")


def test_queue_timeout_moves_to_ticket_via_sweeper(ten_minutes, client, fake_rasa) -> None:
    fake_rasa.reply = scripted_rasa
    handoff = client.app.state.gateway.handoff
    assert handoff.settings.handoff_queue_timeout_seconds == 600
    cid = say(client, "u-slow", "转人工")["conversation_id"]
    early = say(client, "u-fast", "转人工")["conversation_id"]
    assert handoff.sweep() == 0
    with db.get_sessionmaker()() as s:  # u-slow has waited 11 minutes
        h = s.scalars(select(Handoff).where(Handoff.conversation_id == cid)).one()
        h.queued_at = datetime.now(timezone.utc) - timedelta(minutes=11)
        s.commit()
    with client.websocket_connect(f"/api/v1/chat/{cid}/ws") as ws:
        ws.send_json(auth_frame(cid))
        assert ws.receive_json()["state"] == "queued"
        assert handoff.sweep() == 1
        event = ws.receive_json()
        while event["type"] != "message":
            event = ws.receive_json()
        assert "已等待超过 10 分钟" in event["message"]["text"]
    assert state_of(cid) == "ticket" and state_of(early) == "queued"
    say(client, "u-slow", "我想改账单日")
    say(client, "u-slow", "13912345678")
    with db.get_sessionmaker()() as s:
        ticket = s.scalars(select(Ticket)).one()
    assert ticket.cause == "timeout" and ticket.status == "open"
    # sealed at rest (issue 16): the row holds no digits of the number, the vault opens it
    assert ticket.callback_number.startswith("v1:") and "13912345678" not in ticket.callback_number
    assert PiiVault(get_settings().pii_encryption_key).open(ticket.callback_number) == "13912345678"


def test_queue_timeout_is_also_noticed_on_the_next_message(base_env, client, fake_rasa) -> None:
    fake_rasa.reply = scripted_rasa
    cid = say(client, "u-late", "转人工")["conversation_id"]
    with db.get_sessionmaker()() as s:
        h = s.scalars(select(Handoff)).one()
        h.queued_at = datetime.now(timezone.utc) - timedelta(hours=2)
        s.commit()
    reply = say(client, "u-late", "还要等多久")
    assert reply["outcome"] == "ticket" and reply["details"]["ticket"]["cause"] == "timeout"
    assert state_of(cid) == "ticket"


def test_cancel_waiting_by_text_button_and_endpoint(base_env, client, fake_rasa) -> None:
    fake_rasa.reply = scripted_rasa
    cid = say(client, "u-cancel", "转人工")["conversation_id"]
    reply = say(client, "u-cancel", "取消排队")
    assert reply["outcome"] == "cancelled" and state_of(cid) == "bot"
    assert rasa_events(fake_rasa, cid)[-1]["event"] == "resume"

    queued = say(client, "u-cancel", "转人工")
    button = queued["messages"][-1]["buttons"][0]
    assert button["title"] == "取消排队"
    assert say(client, "u-cancel", button["payload"])["outcome"] == "cancelled"

    say(client, "u-cancel", "转人工")
    resp = client.post(f"/api/v1/chat/{cid}/cancel", headers=owner(cid))
    assert resp.status_code == 200 and resp.json()["outcome"] == "cancelled"
    again = client.post(f"/api/v1/chat/{cid}/cancel", headers=owner(cid))
    assert again.status_code == 409 and again.json()["detail"]["code"] == "not_queued"
    assert client.post("/api/v1/chat/nope/cancel").status_code == 404
    # a stale cancel button never reaches Rasa
    sent = len(fake_rasa.sent)
    assert say(client, "u-cancel", "/cancel_queue")["outcome"] == "cancelled"
    assert len(fake_rasa.sent) == sent
    with db.get_sessionmaker()() as s:
        ends = [h.end_reason for h in s.scalars(select(Handoff).order_by(Handoff.id))]
    assert ends == ["cancelled", "cancelled", "cancelled"]


def test_accepting_a_cancelled_conversation_is_409(base_env, client, fake_rasa) -> None:
    fake_rasa.reply = scripted_rasa
    make_staff("late-agent")
    headers = login(client, "late-agent")
    cid = say(client, "u-gone", "转人工")["conversation_id"]
    say(client, "u-gone", "取消")
    resp = client.post(f"/api/v1/agent/conversations/{cid}/accept", headers=headers)
    assert resp.status_code == 409 and resp.json()["detail"]["code"] == "not_queued"


def test_resume_is_retried_when_rasa_was_down(base_env, client, fake_rasa) -> None:
    fake_rasa.reply = scripted_rasa
    cid = say(client, "u-flaky", "转人工")["conversation_id"]
    fake_rasa.down = True
    assert say(client, "u-flaky", "取消排队")["outcome"] == "cancelled"
    with db.get_sessionmaker()() as s:
        assert s.scalars(select(Handoff)).one().rasa_paused is True
    fake_rasa.down = False
    assert say(client, "u-flaky", "年费怎么收")["outcome"] == "answered"
    events = [e["event"] for e in rasa_events(fake_rasa, cid)]
    assert events[-1] == "resume"
    with db.get_sessionmaker()() as s:
        assert s.scalars(select(Handoff)).one().rasa_paused is False


def test_english_ticket_flow_outside_working_hours(closed_today, client, fake_rasa) -> None:
    """An English conversation leaves its message in English (issue 19)."""
    from test_handoff_english import CJK, english_rasa
    fake_rasa.reply = english_rasa
    say(client, "u-night-en", "English please")
    reply = say(client, "u-night-en", "agent please")
    assert reply["outcome"] == "ticket"
    prompt = reply["messages"][-1]
    assert prompt["text"].startswith("Our agents are not available now (service hours: ")
    assert "09:00-18:00" in prompt["text"] and not CJK.search(prompt["text"])
    assert prompt["buttons"][0]["title"] == "Cancel the message"
    step = say(client, "u-night-en", "I'd like a higher credit limit")
    assert step["messages"][0]["text"].startswith("Got your question.")
    bad = say(client, "u-night-en", "12345")
    assert bad["messages"][0]["text"].startswith("That number doesn't look right.")
    done = say(client, "u-night-en", "138-1234-5678")
    assert done["details"]["ticket"]["status"] == "open"
    assert "on the number ending 5678" in done["messages"][0]["text"]
    assert not CJK.search(done["messages"][0]["text"])
