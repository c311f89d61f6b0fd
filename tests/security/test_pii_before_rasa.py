"""Issue 16 item 7: Rasa (and so its tracker store) only sees masked numbers; the last four
characters stay for the flows."""

from __future__ import annotations

from handoff_support import login, make_staff, rasa_events, say, scripted_rasa
from sqlalchemy import select

from api.core import db
from api.models import Message
from tests.chat_support import signed

CARD, ID, PHONE = "6222021234567890128", "11010519491231002X", "13812345678"


def test_full_numbers_never_reach_rasa_but_the_last_four_do(client, fake_rasa) -> None:
    text = f"卡号{CARD}，身份证{ID}，手机{PHONE}，尾号8801"
    resp = client.post("/api/v1/chat", json=signed("demo-gold-001", text))
    assert resp.status_code == 200
    sent = fake_rasa.sent[-1]["message"]
    for number in (CARD, ID, PHONE):
        assert number not in sent
    assert "0128" in sent and "002X" in sent and "5678" in sent and "8801" in sent
    with db.get_sessionmaker()() as s:
        stored = " ".join(m.text for m in s.scalars(select(Message)))
    assert CARD not in stored and ID not in stored and PHONE not in stored


def test_handoff_mirror_to_the_tracker_is_masked_both_ways(desk_app, client, fake_rasa) -> None:
    fake_rasa.reply = scripted_rasa
    make_staff("pii-agent")
    headers = login(client, "pii-agent")
    client.post("/api/v1/agent/status", headers=headers, json={"status": "online"})
    cid = say(client, "demo-gold-001", "转人工")["conversation_id"]
    assert client.post(f"/api/v1/agent/conversations/{cid}/accept",
                       headers=headers).status_code == 200
    say(client, "demo-gold-001", f"我的卡号是{CARD}")
    client.post(f"/api/v1/agent/conversations/{cid}/messages", headers=headers,
                json={"text": f"您说的是{CARD}这张卡吗"})
    texts = " ".join(str(e.get("text", "")) for e in rasa_events(fake_rasa, cid))
    assert "0128" in texts and CARD not in texts
