"""Issue 4 done-when through the real stack: Rasa + action server + API.

A cardholder asks for a human, waits in the queue, talks to an agent (both ways, agent messages
over GET ?after= and the WebSocket), the agent resolves, the cardholder rates the service, and
the bot answers again -- with the human part in Rasa's tracker.
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from api.conversation.rasa_client import rasa_jwt
from tests.chat_support import auth_frame, owner

pytestmark = pytest.mark.e2e

AGENT_USER = os.environ.get("DEMO_AGENT_USER", "agent")
AGENT_PASSWORD = os.environ.get("DEMO_AGENT_PASSWORD", "agent-dev-pass")


LOST_CARD = "信用卡丢了怎么办"  # a KB question (entry lost-001)


def assert_bot_answered(reply: dict[str, Any], texts: Any) -> None:
    """The bot answered from the KB: the entry itself, or a clarification offering it (the
    calibrated thresholds decide which; both are the bot at work, not the desk)."""
    assert reply["outcome"] in ("answered", "clarify"), reply
    if reply["outcome"] == "answered":
        assert "挂失" in texts(reply)
    else:
        payloads = [b["payload"] for m in reply["messages"] for b in m.get("buttons") or []]
        assert any("lost-001" in p for p in payloads), reply


def staff_headers(stack: Any, username: str = AGENT_USER,
                  password: str = AGENT_PASSWORD) -> dict[str, str]:
    resp = httpx.post(f"{stack.base_url}/api/v1/auth/token",
                      data={"username": username, "password": password}, timeout=30)
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def online(stack: Any, headers: dict[str, str]) -> None:
    resp = httpx.post(f"{stack.base_url}/api/v1/agent/status", json={"status": "online"},
                      headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text


def tracker(stack: Any, conversation_id: str) -> dict[str, Any]:
    # Rasa's HTTP API takes a bearer JWT signed with RASA_TOKEN (issue 16), never ?token=
    jwt = rasa_jwt(stack.env["RASA_TOKEN"])
    resp = httpx.get(f"{stack.rasa_url}/conversations/{conversation_id}/tracker",
                     headers={"Authorization": f"Bearer {jwt}"}, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def ws_url(stack: Any, path: str) -> str:
    return stack.base_url.replace("http://", "ws://") + path


def next_message(ws: Any, sender: str) -> dict[str, Any]:
    """Read frames until a transcript line from `sender` arrives."""
    for _ in range(20):
        frame = json.loads(ws.recv(timeout=30))
        if frame.get("type") == "message" and frame["message"]["sender"] == sender:
            return frame["message"]
    raise AssertionError(f"no {sender} message on the socket")


def test_handoff_round_trip_and_the_bot_resumes(stack, chat, texts) -> None:
    user = "e2e-handoff-1"
    agent = staff_headers(stack)
    online(stack, agent)
    api = stack.base_url

    before = chat(user, LOST_CARD)
    assert_bot_answered(before, texts)

    # the cardholder asks for a human: queued, with a position and an estimate
    reply = chat(user, "转人工")
    assert reply["outcome"] == "handoff", reply
    cid = reply["conversation_id"]
    queue = reply["details"]["queue"]
    assert queue["position"] >= 1 and queue["estimated_wait_seconds"] > 0
    assert "排在第" in texts(reply)
    status = httpx.get(f"{api}/api/v1/chat/{cid}/status", headers=owner(cid), timeout=30).json()
    assert status["state"] == "queued" and status["queue"]["position"] == queue["position"]
    cursor = max(m["id"] for m in reply["messages"])

    # the agent sees it in the queue and accepts
    items = httpx.get(f"{api}/api/v1/agent/queue", headers=agent, timeout=30).json()["items"]
    assert cid in [i["conversation_id"] for i in items]
    accepted = httpx.post(f"{api}/api/v1/agent/conversations/{cid}/accept", headers=agent,
                          timeout=30)
    assert accepted.status_code == 200, accepted.text
    agent_no = accepted.json()["agent"]["agent_no"]

    with connect(ws_url(stack, f"/api/v1/chat/{cid}/ws"), open_timeout=30) as ws:
        ws.send(json.dumps(auth_frame(cid)))
        first = json.loads(ws.recv(timeout=30))
        assert first["type"] == "state" and first["state"] == "assigned"

        # the cardholder's message reaches the agent, not the bot
        to_agent = chat(user, "我在国外刷卡被拒了，帮我看看")
        assert to_agent["outcome"] == "agent" and to_agent["messages"] == []
        detail = httpx.get(f"{api}/api/v1/agent/conversations/{cid}", headers=agent,
                           timeout=30).json()
        lines = [(m["sender"], m["text"]) for m in detail["messages"]]
        assert ("user", "我在国外刷卡被拒了，帮我看看") in lines
        kb_turn = next(m["kb"] for m in detail["messages"] if m["sender"] == "bot" and m.get("kb"))
        if kb_turn["outcome"] == "answered":  # the entry and score the bot used
            assert kb_turn["entry_id"] == "lost-001" and kb_turn["score"] > 0
        else:  # a clarification: the candidates it offered, with scores
            assert "lost-001" in [c["entry_id"] for c in kb_turn["candidates"]]

        # the agent's message arrives over the WebSocket and through GET ?after=
        sent = httpx.post(f"{api}/api/v1/agent/conversations/{cid}/messages", headers=agent,
                          json={"text": "您好，请问是哪个国家的交易？"}, timeout=30)
        assert sent.status_code == 200, sent.text
        pushed = next_message(ws, "agent")
        assert pushed["text"] == "您好，请问是哪个国家的交易？"
        assert pushed["agent"]["agent_no"] == agent_no
    polled = httpx.get(f"{api}/api/v1/chat/{cid}/messages",
                       headers=owner(cid), params={"after": cursor},
                       timeout=30).json()
    assert "您好，请问是哪个国家的交易？" in [m["text"] for m in polled["messages"]]
    assert any(f"人工客服 {agent_no} 号为您服务" in m["text"] for m in polled["messages"])

    # resolve -> survey in the chat -> back to the bot
    resolved = httpx.post(f"{api}/api/v1/agent/conversations/{cid}/resolve", headers=agent,
                          timeout=30)
    assert resolved.status_code == 200, resolved.text
    buttons = resolved.json()["message"]["buttons"]
    rated = chat(user, buttons[4]["payload"])
    assert rated["outcome"] == "survey" and rated["details"]["survey"]["score"] == 5
    done = chat(user, "服务很好")
    assert done["outcome"] == "survey" and done["details"]["state"] == "bot"
    detail = httpx.get(f"{api}/api/v1/agent/conversations/{cid}", headers=agent,
                       timeout=30).json()
    assert detail["surveys"][-1]["score"] == 5 and detail["surveys"][-1]["comment"] == "服务很好"
    assert [t["to"] for t in detail["transitions"]][-4:] == [
        "queued", "assigned", "resolved", "bot"]

    after = chat(user, LOST_CARD)
    assert_bot_answered(after, texts)

    # Rasa's tracker holds the human part, between pause and resume
    events = tracker(stack, cid)["events"]
    kinds = [e["event"] for e in events]
    assert "pause" in kinds and "resume" in kinds
    assert kinds.index("pause") < kinds.index("resume")
    human = events[kinds.index("pause"):kinds.index("resume")]
    assert any(e["event"] == "user" and e.get("text") == "我在国外刷卡被拒了，帮我看看"
               for e in human)
    assert any(e["event"] == "bot" and e.get("text") == "您好，请问是哪个国家的交易？"
               and (e.get("metadata") or {}).get("agent", {}).get("agent_no") == agent_no
               for e in human)
    # and the bot answered after the resume
    assert any(e["event"] == "bot" for e in events[kinds.index("resume"):])


def test_triggers_complaint_fraud_and_none_of_these(stack, chat) -> None:
    api = stack.base_url
    fraud = chat("e2e-handoff-fraud", "我的卡被盗刷了")
    assert fraud["outcome"] == "handoff", fraud
    assert fraud["details"]["handoff"]["group"] == "disputes"
    assert fraud["details"]["handoff"]["priority"] is True
    complaint = chat("e2e-handoff-complaint", "我要投诉你们的服务")
    assert complaint["outcome"] == "handoff", complaint
    assert complaint["details"]["handoff"]["reason"] == "complaint"
    rejected = chat("e2e-handoff-none", "/none_of_these")
    assert rejected["outcome"] == "handoff", rejected
    assert rejected["details"]["handoff"]["reason"] == "clarify_rejected"
    button = chat("e2e-handoff-button", "/request_human")  # the fallback's "转人工客服" button
    assert button["outcome"] == "handoff", button
    agent = staff_headers(stack)
    items = httpx.get(f"{api}/api/v1/agent/queue", headers=agent, timeout=30).json()["items"]
    assert items[0]["conversation_id"] == fraud["conversation_id"]  # priority first
    for reply in (fraud, complaint, rejected, button):  # leave the shared stack clean
        cid = reply["conversation_id"]
        assert httpx.post(f"{api}/api/v1/chat/{cid}/cancel",
                          headers=owner(cid), timeout=30).status_code == 200


def test_platinum_cardholder_goes_to_the_vip_group(stack, chat) -> None:
    reply = chat("demo-platinum-001", "人工客服")
    assert reply["outcome"] == "handoff", reply
    assert reply["details"]["queue"]["group"] == "vip"
    assert reply["details"]["handoff"]["tier"] == "platinum"
    agent = staff_headers(stack)
    detail = httpx.get(f"{stack.base_url}/api/v1/agent/conversations/"
                       f"{reply['conversation_id']}", headers=agent, timeout=30).json()
    assert detail["profile"]["tier_label"] == "白金卡" and detail["profile"]["cards"]
    assert all(c["number"].startswith("**** ") for c in detail["profile"]["cards"])
    cancel = chat("demo-platinum-001", "取消排队")
    assert cancel["outcome"] == "cancelled"


def test_agent_endpoints_reject_cardholders(stack) -> None:
    api = stack.base_url
    assert httpx.get(f"{api}/api/v1/agent/queue", timeout=30).status_code == 401
    ops = os.environ.get("DEMO_OPS_USER", "ops"), os.environ.get("DEMO_OPS_PASSWORD",
                                                                 "ops-dev-pass")
    headers = staff_headers(stack, *ops)
    assert httpx.get(f"{api}/api/v1/agent/queue", headers=headers,
                     timeout=30).status_code == 403
