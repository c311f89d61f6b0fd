"""The handoff in an English conversation (issue 19): queue, agent joining, transfer, survey
and the stale-button replies are in English; Chinese stays the default (test_handoff_flow)."""

from __future__ import annotations

import re

import pytest
from handoff_support import desk_env, login, make_staff, say

from api.insights.nps import follow_up_message, question_message
from tests.chat_support import owner

CJK = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture()
def hclient(tmp_path, monkeypatch):
    desk_env(tmp_path, monkeypatch)


def english_rasa(body):
    sender, text = body["sender"], body["message"]
    if "agent" in text.lower():
        return [{"recipient_id": sender, "text": "OK, connecting you to an agent, one moment..."},
                {"recipient_id": sender, "custom": {"meta": {"outcome": "handoff", "handoff": {
                    "reason": "requested", "group": "general", "priority": False}}}}]
    return [{"recipient_id": sender, "text": f"Xiaoka answers: {text}"}]


def test_english_handoff_queue_agent_transfer_and_survey(hclient, client, fake_rasa) -> None:
    fake_rasa.reply = english_rasa
    make_staff("agent7", agent_no="1007")
    headers = login(client, "agent7")
    switched = say(client, "u-en-desk", "English please")
    assert switched["details"]["language"] == "en"
    cid = switched["conversation_id"]

    queued = say(client, "u-en-desk", "I want to talk to an agent")
    assert queued["outcome"] == "handoff"
    queue_msg = next(m for m in queued["messages"] if m.get("buttons"))
    assert "You are number 1" in queue_msg["text"] and not CJK.search(queue_msg["text"])
    assert queue_msg["buttons"][0]["title"] == "Stop waiting"

    accepted = client.post(f"/api/v1/agent/conversations/{cid}/accept", headers=headers).json()
    assert accepted["message"]["text"] == "Agent no. 1007 is now serving you."
    moved = client.post(f"/api/v1/agent/conversations/{cid}/transfer", headers=headers,
                        json={"group": "vip"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["message"]["text"] == "Transferring you to the VIP desk, one moment."
    make_staff("vip1", agent_no="2001", groups=["vip"])
    vip = login(client, "vip1")
    assert client.post(f"/api/v1/agent/conversations/{cid}/accept",
                       headers=vip).status_code == 200

    resolved = client.post(f"/api/v1/agent/conversations/{cid}/resolve", headers=vip).json()
    survey = resolved["message"]
    assert survey["text"].startswith("The chat with agent no. 2001 has ended")
    scored = say(client, "u-en-desk", survey["buttons"][4]["payload"])
    thanks = scored["messages"][0]
    assert thanks["text"].startswith("Thank you for your rating (5)!")
    assert [b["title"] for b in thanks["buttons"]] == ["No thanks"]
    closed = say(client, "u-en-desk", thanks["buttons"][0]["payload"])
    assert closed["messages"][0]["text"] == ("Thank you for your feedback! Xiaoka is here for "
                                             "you: just ask.")
    # a survey button clicked again after the flow ended
    stale = say(client, "u-en-desk", "/survey_skip")
    assert stale["messages"][0]["text"].startswith("The rating of this service is closed")
    history = client.get(f"/api/v1/chat/{cid}/messages", headers=owner(cid)).json()["messages"]
    system = [m["text"] for m in history if m["sender"] == "system"]
    assert system and not any(CJK.search(t) for t in system), system


def test_cancelling_the_queue_in_english(hclient, client, fake_rasa) -> None:
    fake_rasa.reply = english_rasa
    say(client, "u-en-cancel", "English please")
    queued = say(client, "u-en-cancel", "agent please")
    assert queued["outcome"] == "handoff"
    cancelled = say(client, "u-en-cancel", "/cancel_queue")
    assert cancelled["messages"][0]["text"] == ("You have left the queue. Xiaoka is here for "
                                                "you: just ask.")


def test_nps_messages_in_both_languages() -> None:
    assert question_message()["text"].startswith("您有多大可能")
    english = question_message("en")
    assert english["text"].startswith("How likely are you to recommend")
    assert english["scale"] == [0, 10] and len(english["buttons"]) == 11
    follow = follow_up_message("en")
    assert follow["buttons"][-1]["title"] == "No thanks" and not CJK.search(follow["text"])
    assert follow_up_message()["buttons"][-1]["title"] == "不用了"
