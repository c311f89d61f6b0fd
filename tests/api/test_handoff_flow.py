"""The whole handoff through the API: bot -> queued -> assigned -> resolved -> survey -> bot.

Rasa is the scripted fake of conftest.py (MockTransport); everything else is real: database,
state machine, hub and WebSockets.
"""

from __future__ import annotations

import pytest
from handoff_support import desk_env, login, make_staff, rasa_events, say, scripted_rasa
from sqlalchemy import select

from api.core import db
from api.models import Conversation, Handoff, Message, Survey, Transition
from tests.chat_support import auth_frame, owner


@pytest.fixture()
def hclient(tmp_path, monkeypatch):
    desk_env(tmp_path, monkeypatch)


@pytest.fixture()
def desk(hclient, client, fake_rasa):
    fake_rasa.reply = scripted_rasa
    make_staff("agent7", agent_no="1007")
    return client, fake_rasa, login(client, "agent7")


def state_of(conversation_id: str) -> str:
    with db.get_sessionmaker()() as s:
        return s.get(Conversation, conversation_id).state


def test_full_handoff_round_trip(desk) -> None:
    client, fake_rasa, headers = desk
    first = say(client, "u-flow", "我的账单怎么查")
    assert first["outcome"] == "answered"
    cid = first["conversation_id"]

    # 1. the cardholder asks for a human: queued with position and estimate, Rasa paused
    reply = say(client, "u-flow", "转人工")
    assert reply["outcome"] == "handoff"
    queue = reply["details"]["queue"]
    assert queue["position"] == 1 and queue["estimated_wait_seconds"] > 0
    assert queue["group"] == "general"
    assert any("排在第 1 位" in m["text"] for m in reply["messages"])
    assert state_of(cid) == "queued"
    assert rasa_events(fake_rasa, cid)[-1]["event"] == "pause"

    # 2. while waiting, messages go to the desk, not to Rasa
    sent_before = len(fake_rasa.sent)
    waiting = say(client, "u-flow", "我的卡被冻结了，急")
    assert waiting["outcome"] == "handoff" and waiting["details"]["queue"]["position"] == 1
    assert len(fake_rasa.sent) == sent_before
    items = client.get("/api/v1/agent/queue", headers=headers).json()["items"]
    assert [i["conversation_id"] for i in items] == [cid]
    assert items[0]["last_message"] == "我的卡被冻结了，急"
    assert items[0]["channel"] == "web" and items[0]["tier"] == "standard"

    # 3. the agent accepts
    resp = client.post(f"/api/v1/agent/conversations/{cid}/accept", headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "assigned"
    assert "人工客服 1007 号为您服务" in resp.json()["message"]["text"]
    assert client.get("/api/v1/agent/queue", headers=headers).json()["total"] == 0
    mine = client.get("/api/v1/agent/conversations", headers=headers).json()["items"]
    assert [c["conversation_id"] for c in mine] == [cid]

    # 4. messages both ways
    cursor = max(m["id"] for m in reply["messages"])
    to_agent = say(client, "u-flow", "卡号 6222021234567890128 的卡被冻结")
    assert to_agent["outcome"] == "agent" and to_agent["messages"] == []
    assert to_agent["details"]["agent"]["agent_no"] == "1007"
    assert len(fake_rasa.sent) == sent_before
    sent = client.post(f"/api/v1/agent/conversations/{cid}/messages", headers=headers,
                       json={"text": "您好，我是 1007 号，马上为您查询。"})
    assert sent.status_code == 200 and sent.json()["sender"] == "agent"

    got = client.get(f"/api/v1/chat/{cid}/messages",
                     headers=owner(cid), params={"after": cursor}).json()
    assert got["state"] == "assigned" and got["agent"]["agent_no"] == "1007"
    senders = [(m["sender"], m["text"]) for m in got["messages"]]
    assert ("agent", "您好，我是 1007 号，马上为您查询。") in senders
    assert any(s == "system" and "1007 号为您服务" in t for s, t in senders)
    assert got["next_cursor"] == got["messages"][-1]["id"]
    assert client.get(f"/api/v1/chat/{cid}/messages", headers=owner(cid),
                      params={"after": got["next_cursor"]}).json()["messages"] == []

    # the agent's transcript has the bot turn with its KB entry and score, and masked PII
    detail = client.get(f"/api/v1/agent/conversations/{cid}", headers=headers).json()
    bot_turn = next(m for m in detail["messages"] if m["sender"] == "bot")
    assert bot_turn["kb"]["entry_id"] == "bill-001" and bot_turn["kb"]["score"] == 0.91
    texts = [m["text"] for m in detail["messages"]]
    assert not any("6222021234567890128" in t for t in texts)
    assert any("0128" in t for t in texts)

    # Rasa's tracker got the human part: user -> user event, agent -> bot event with metadata
    events = rasa_events(fake_rasa, cid)
    users = [e for e in events if e["event"] == "user"]
    bots = [e for e in events if e["event"] == "bot"]
    assert [e["text"] for e in users][0] == "我的卡被冻结了，急"
    assert all(e["parse_data"] == {} for e in users)  # Rasa 500s on a user event without it
    assert "6222021234567890128" not in users[1]["text"]
    assert bots[-1]["text"] == "您好，我是 1007 号，马上为您查询。"
    assert bots[-1]["metadata"]["agent"]["agent_no"] == "1007"

    # 5. resolve -> survey in the chat
    resp = client.post(f"/api/v1/agent/conversations/{cid}/resolve", headers=headers)
    assert resp.status_code == 200 and resp.json()["state"] == "resolved"
    survey_msg = resp.json()["message"]
    assert [b["title"] for b in survey_msg["buttons"]] == ["1", "2", "3", "4", "5"]
    score = say(client, "u-flow", survey_msg["buttons"][3]["payload"])
    assert score["outcome"] == "survey" and score["details"]["survey"]["score"] == 4
    assert state_of(cid) == "resolved"
    done = say(client, "u-flow", "客服很耐心，我的手机 13812345678")
    assert done["outcome"] == "survey" and done["details"]["state"] == "bot"
    with db.get_sessionmaker()() as s:
        survey = s.scalars(select(Survey)).one()
        assert survey.score == 4 and survey.status == "done"
        assert "客服很耐心" in survey.comment and "13812345678" not in survey.comment
        handoff = s.scalars(select(Handoff)).one()
        assert handoff.end_reason == "resolved" and handoff.ended_at is not None
        assert handoff.rasa_paused is False
        transitions = s.scalars(select(Transition).order_by(Transition.id)).all()
    assert [(t.from_state, t.to_state) for t in transitions] == [
        ("bot", "queued"), ("queued", "assigned"), ("assigned", "resolved"),
        ("resolved", "bot")]
    assert all(t.at is not None for t in transitions)
    assert transitions[1].actor == "agent:agent7"
    assert rasa_events(fake_rasa, cid)[-1]["event"] == "resume"

    # 6. back to the bot
    again = say(client, "u-flow", "年费怎么收")
    assert again["outcome"] == "answered" and len(fake_rasa.sent) == sent_before + 1


def test_agent_messages_arrive_over_the_cardholder_websocket(desk) -> None:
    client, _fake, headers = desk
    cid = say(client, "u-ws", "转人工")["conversation_id"]
    with client.websocket_connect(f"/api/v1/chat/{cid}/ws") as ws:
        ws.send_json(auth_frame(cid))
        first = ws.receive_json()
        assert first["type"] == "state" and first["state"] == "queued"
        assert first["queue"]["position"] == 1
        assert client.post(f"/api/v1/agent/conversations/{cid}/accept",
                           headers=headers).status_code == 200
        events = [ws.receive_json() for _ in range(2)]
        assert sorted(e["type"] for e in events) == ["message", "state"]
        assert next(e for e in events if e["type"] == "state")["agent"]["agent_no"] == "1007"
        notice = next(e for e in events if e["type"] == "message")["message"]
        assert notice["text"] == "人工客服 1007 号为您服务。"
        client.post(f"/api/v1/agent/conversations/{cid}/messages", headers=headers,
                    json={"text": "请问有什么可以帮您？"})
        event = ws.receive_json()
        while event["type"] != "message":
            event = ws.receive_json()
        assert event["message"]["sender"] == "agent"
        assert event["message"]["text"] == "请问有什么可以帮您？"
        assert event["message"]["agent"]["agent_no"] == "1007"


def test_websocket_replays_after_cursor_and_rejects_unknown_conversation(desk) -> None:
    client, _fake, headers = desk
    cid = say(client, "u-replay", "转人工")["conversation_id"]
    client.post(f"/api/v1/agent/conversations/{cid}/accept", headers=headers)
    client.post(f"/api/v1/agent/conversations/{cid}/messages", headers=headers,
                json={"text": "在的"})
    with client.websocket_connect(f"/api/v1/chat/{cid}/ws?after=0") as ws:
        ws.send_json(auth_frame(cid))
        frames = [ws.receive_json() for _ in range(1 + 4)]
    assert frames[0]["type"] == "state" and frames[0]["state"] == "assigned"
    replayed = [f["message"]["text"] for f in frames[1:]]
    assert "在的" in replayed
    with client.websocket_connect("/api/v1/chat/nope/ws") as ws:
        ws.send_json(auth_frame("nope"))  # a well-signed token, but no such conversation
        assert ws.receive_json()["detail"]["code"] == "conversation_not_found"
    # Another conversation's token, or none at all: the same 404 (no existence oracle).
    other = say(client, "u-replay-other", "你好")["conversation_id"]
    with client.websocket_connect(f"/api/v1/chat/{cid}/ws") as ws:
        ws.send_json(auth_frame(other))
        assert ws.receive_json()["detail"]["code"] == "conversation_not_found"
    with client.websocket_connect(f"/api/v1/chat/{cid}/ws") as ws:
        ws.send_json({"type": "auth"})
        assert ws.receive_json()["detail"]["code"] == "conversation_not_found"


def test_agent_websocket_requires_a_desk_token_and_streams_events(desk) -> None:
    client, _fake, headers = desk
    token = headers["Authorization"].split()[1]
    with client.websocket_connect("/api/v1/agent/ws") as ws:
        ws.send_json({"type": "auth", "token": "bad"})
        assert ws.receive_json()["type"] == "error"
    make_staff("ops2", role="ops")
    ops_token = login(client, "ops2")["Authorization"].split()[1]
    with client.websocket_connect("/api/v1/agent/ws") as ws:
        ws.send_json({"type": "auth", "token": ops_token})
        assert ws.receive_json()["detail"]["code"] == "forbidden"
    with client.websocket_connect("/api/v1/agent/ws") as ws:
        ws.send_json({"type": "auth", "token": token})
        assert ws.receive_json()["type"] == "ready"
        cid = say(client, "u-agent-ws", "转人工")["conversation_id"]
        seen = []
        while not any(e.get("type") == "state" and e.get("conversation_id") == cid
                      for e in seen):
            seen.append(ws.receive_json())
        say(client, "u-agent-ws", "有人吗")
        event = ws.receive_json()
        while not (event["type"] == "message" and event["message"]["sender"] == "user"):
            event = ws.receive_json()
        assert event["conversation_id"] == cid and event["message"]["text"] == "有人吗"


def test_agent_cannot_write_to_a_conversation_it_does_not_hold(desk) -> None:
    client, _fake, headers = desk
    cid = say(client, "u-guard", "转人工")["conversation_id"]
    resp = client.post(f"/api/v1/agent/conversations/{cid}/messages", headers=headers,
                       json={"text": "hi"})
    assert resp.status_code == 409 and resp.json()["detail"]["code"] == "not_assigned"
    make_staff("other")
    client.post(f"/api/v1/agent/conversations/{cid}/accept", headers=login(client, "other"))
    resp = client.post(f"/api/v1/agent/conversations/{cid}/messages", headers=headers,
                       json={"text": "hi"})
    assert resp.status_code == 403 and resp.json()["detail"]["code"] == "not_your_conversation"
    resp = client.post(f"/api/v1/agent/conversations/{cid}/resolve", headers=headers)
    assert resp.status_code == 403
    for bad in ({"text": ""}, {"text": "   "}, {"text": "字" * 2001}, {}):
        resp = client.post(f"/api/v1/agent/conversations/{cid}/messages",
                           headers=login(client, "other"), json=bad)
        assert resp.status_code == 422, bad
        assert resp.json()["detail"]["message"]
    assert client.get("/api/v1/agent/conversations/nope",
                      headers=headers).status_code == 404


def test_survey_question_instead_of_score_goes_to_the_bot(desk) -> None:
    client, fake_rasa, headers = desk
    cid = say(client, "u-skip", "转人工")["conversation_id"]
    client.post(f"/api/v1/agent/conversations/{cid}/accept", headers=headers)
    client.post(f"/api/v1/agent/conversations/{cid}/resolve", headers=headers)
    sent_before = len(fake_rasa.sent)
    reply = say(client, "u-skip", "分期手续费多少")
    assert reply["outcome"] == "answered" and len(fake_rasa.sent) == sent_before + 1
    assert rasa_events(fake_rasa, cid)[-1]["event"] == "resume"
    with db.get_sessionmaker()() as s:
        assert s.scalars(select(Survey)).one().status == "skipped"
    assert state_of(cid) == "bot"
    # a survey button clicked late never reaches Rasa
    late = say(client, "u-skip", '/survey{"score":5}')
    assert late["outcome"] == "survey" and len(fake_rasa.sent) == sent_before + 1


def test_survey_through_the_api_and_skip_comment(desk) -> None:
    client, _fake, headers = desk
    cid = say(client, "u-api-survey", "转人工")["conversation_id"]
    assert client.post(f"/api/v1/chat/{cid}/survey",
                       headers=owner(cid), json={"score": 5}).status_code == 409
    client.post(f"/api/v1/agent/conversations/{cid}/accept", headers=headers)
    client.post(f"/api/v1/agent/conversations/{cid}/resolve", headers=headers)
    for bad in ({"score": 0}, {"score": 6}, {"score": "x"}, {}):
        assert client.post(f"/api/v1/chat/{cid}/survey",
                           headers=owner(cid), json=bad).status_code == 422
    resp = client.post(f"/api/v1/chat/{cid}/survey",
                       headers=owner(cid), json={"score": 2, "comment": "等太久"})
    assert resp.status_code == 200 and resp.json()["details"]["state"] == "bot"
    detail = client.get(f"/api/v1/agent/conversations/{cid}", headers=headers).json()
    assert detail["surveys"][0]["score"] == 2 and detail["surveys"][0]["comment"] == "等太久"

    # second episode: score by typing the digit, then skip the comment with the button
    say(client, "u-api-survey", "转人工")
    client.post(f"/api/v1/agent/conversations/{cid}/accept", headers=headers)
    client.post(f"/api/v1/agent/conversations/{cid}/resolve", headers=headers)
    assert say(client, "u-api-survey", "5")["details"]["survey"]["score"] == 5
    skip = say(client, "u-api-survey", "/survey_skip")
    assert skip["details"]["survey"] == {"score": 5, "comment": None, "status": "done"}
    with db.get_sessionmaker()() as s:
        assert [(x.score, x.comment) for x in s.scalars(select(Survey).order_by(Survey.id))] \
            == [(2, "等太久"), (5, None)]


def test_transfer_requeues_in_the_new_group(desk) -> None:
    client, _fake, headers = desk
    make_staff("disputes-only", groups=["disputes"])
    disputes = login(client, "disputes-only")
    cid = say(client, "u-transfer", "转人工")["conversation_id"]
    assert client.get("/api/v1/agent/queue", headers=disputes).json()["total"] == 0
    resp = client.post(f"/api/v1/agent/conversations/{cid}/accept", headers=disputes)
    assert resp.status_code == 403 and resp.json()["detail"]["code"] == "wrong_group"
    client.post(f"/api/v1/agent/conversations/{cid}/accept", headers=headers)
    bad = client.post(f"/api/v1/agent/conversations/{cid}/transfer", headers=headers,
                      json={"group": "nowhere"})
    assert bad.status_code == 422
    resp = client.post(f"/api/v1/agent/conversations/{cid}/transfer", headers=headers,
                       json={"group": "disputes", "note": "疑似盗刷"})
    assert resp.status_code == 200 and resp.json()["state"] == "queued"
    assert resp.json()["queue"]["group"] == "disputes"
    items = client.get("/api/v1/agent/queue", headers=disputes).json()["items"]
    assert [i["conversation_id"] for i in items] == [cid]
    assert client.post(f"/api/v1/agent/conversations/{cid}/accept",
                       headers=disputes).status_code == 200
    with db.get_sessionmaker()() as s:
        moves = [(t.from_state, t.to_state, t.event) for t in
                 s.scalars(select(Transition).order_by(Transition.id))]
    assert moves == [("bot", "queued", "request"), ("queued", "assigned", "accept"),
                     ("assigned", "queued", "transfer"), ("queued", "assigned", "accept")]


def test_kb_suggestions_for_the_latest_user_message(desk, monkeypatch) -> None:
    client, _fake, headers = desk
    queries: list[str] = []

    def search(query, channel="web", top_k=5):
        queries.append(query)
        return {"decision": "answer", "hits": [
            {"entry_id": f"e{i}", "question": f"问题{i}", "score": 0.9 - i / 10,
             "answer": {"text": f"答案{i}"}} for i in range(top_k)]}

    monkeypatch.setattr(client.app.state.kb, "search", search)
    cid = say(client, "u-sugg", "转人工")["conversation_id"]
    say(client, "u-sugg", "境外消费怎么退税")
    body = client.get(f"/api/v1/agent/conversations/{cid}/suggestions", headers=headers).json()
    assert queries == ["境外消费怎么退税"]
    assert [s["entry_id"] for s in body["suggestions"]] == ["e0", "e1", "e2"]
    assert body["suggestions"][0]["answer"] == "答案0"
    canned = client.get("/api/v1/agent/canned-replies", headers=headers).json()["items"]
    assert canned and all(c["title"] and c["text"] for c in canned)


def test_stored_messages_of_the_human_part_are_masked(desk) -> None:
    client, _fake, headers = desk
    cid = say(client, "u-mask", "转人工")["conversation_id"]
    client.post(f"/api/v1/agent/conversations/{cid}/accept", headers=headers)
    client.post(f"/api/v1/agent/conversations/{cid}/messages", headers=headers,
                json={"text": "您登记的手机 13912345678 对吗"})
    with db.get_sessionmaker()() as s:
        texts = [m.text for m in s.scalars(select(Message).where(Message.sender == "agent"))]
    assert texts and "13912345678" not in texts[0] and "5678" in texts[0]
