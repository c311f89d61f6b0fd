"""The VIP's own secretary (安心秘书, issue 19): learned or assigned, offered first, cleared."""

from __future__ import annotations

import pytest
from handoff_support import desk_env, login, make_staff, say, scripted_rasa

PLATINUM = "demo-platinum-001"
GOLD = "demo-gold-001"


@pytest.fixture()
def desk(tmp_path, monkeypatch, request):
    desk_env(tmp_path, monkeypatch)
    monkeypatch.setenv("HANDOFF_SECRETARY_OFFER_SECONDS", "120")
    client = request.getfixturevalue("client")
    fake_rasa = request.getfixturevalue("fake_rasa")
    fake_rasa.reply = scripted_rasa
    make_staff("wang", agent_no="1001")
    make_staff("li", agent_no="1002")
    make_staff("sup", role="supervisor", agent_no="2001")
    return client, {n: login(client, n) for n in ("wang", "li", "sup")}


def serve_once(client, headers, user_id: str, agent: str) -> str:
    """The cardholder asks for a person, `agent` accepts and resolves, the survey is skipped."""
    conv = say(client, user_id, "转人工")["conversation_id"]
    resp = client.post(f"/api/v1/agent/conversations/{conv}/accept", headers=headers[agent])
    assert resp.status_code == 200, resp.text
    resp = client.post(f"/api/v1/agent/conversations/{conv}/resolve", headers=headers[agent])
    assert resp.status_code == 200, resp.text
    say(client, user_id, "5")
    assert say(client, user_id, "/survey_skip")["details"]["state"] == "bot"
    return conv


def queue_of(client, headers, agent: str) -> list[dict]:
    return client.get("/api/v1/agent/queue", headers=headers[agent]).json()["items"]


def test_last_agent_of_a_platinum_cardholder_is_offered_the_next_chat_first(desk) -> None:
    client, headers = desk
    serve_once(client, headers, PLATINUM, "li")
    rows = client.get("/api/v1/agent/secretaries", headers=headers["sup"]).json()
    assert [(r["user_id"], r["agent"], r["source"]) for r in rows] == [(PLATINUM, "li", "learned")]

    say(client, GOLD, "转人工")  # an earlier conversation of another cardholder
    again = say(client, PLATINUM, "转人工")
    conv = again["conversation_id"]
    assert again["details"]["handoff"]["preferred_agent"] == "li"
    text = again["messages"][-1]["text"]
    assert "专属客服" in text and "1001" not in text and "1002" in text
    assert "排第 1 位" in text  # the VIP desk's wait is shown too

    mine = queue_of(client, headers, "li")
    assert mine[0]["conversation_id"] == conv and mine[0]["preferred_agent"] == "li"
    assert mine[0]["offered_until"] is not None
    other = queue_of(client, headers, "wang")
    marked = next(i for i in other if i["conversation_id"] == conv)
    assert marked["preferred_agent"] == "li"
    gold_item = next(i for i in other if i["user_id"] == GOLD)
    assert gold_item["preferred_agent"] is None

    taken = client.post(f"/api/v1/agent/conversations/{conv}/accept", headers=headers["wang"])
    assert taken.status_code == 409 and taken.json()["detail"]["code"] == "offered_to_secretary"
    assert taken.json()["detail"]["message_en"]
    ok = client.post(f"/api/v1/agent/conversations/{conv}/accept", headers=headers["li"])
    assert ok.status_code == 200, ok.text
    held = client.get("/api/v1/agent/conversations", headers=headers["li"]).json()["items"]
    assert held[0]["preferred_agent"] == "li"


def test_secretary_away_means_the_vip_group_with_the_wait_shown(desk) -> None:
    client, headers = desk
    serve_once(client, headers, PLATINUM, "li")
    client.post("/api/v1/agent/status", json={"status": "away"}, headers=headers["li"])
    reply = say(client, PLATINUM, "转人工")
    assert "preferred_agent" not in reply["details"]["handoff"]
    assert reply["details"]["queue"]["group"] == "vip"
    assert "预计等待" in reply["messages"][-1]["text"]
    conv = reply["conversation_id"]
    ok = client.post(f"/api/v1/agent/conversations/{conv}/accept", headers=headers["wang"])
    assert ok.status_code == 200, ok.text


def test_offer_is_released_when_the_secretary_goes_away(desk) -> None:
    client, headers = desk
    serve_once(client, headers, PLATINUM, "li")
    conv = say(client, PLATINUM, "转人工")["conversation_id"]
    client.post("/api/v1/agent/status", json={"status": "away"}, headers=headers["li"])
    ok = client.post(f"/api/v1/agent/conversations/{conv}/accept", headers=headers["wang"])
    assert ok.status_code == 200, ok.text


def test_non_vip_cardholders_learn_no_secretary(desk) -> None:
    client, headers = desk
    serve_once(client, headers, GOLD, "li")
    assert client.get("/api/v1/agent/secretaries", headers=headers["sup"]).json() == []
    assert "preferred_agent" not in say(client, GOLD, "转人工")["details"]["handoff"]


def test_supervisor_assigns_and_clears_and_learning_keeps_the_choice(desk) -> None:
    client, headers = desk
    url = f"/api/v1/agent/secretaries/{PLATINUM}"
    assert client.put(url, json={"agent": "wang"}, headers=headers["li"]).status_code == 403
    assert client.get("/api/v1/agent/secretaries", headers=headers["li"]).status_code == 403
    bad = client.put(url, json={"agent": "nobody"}, headers=headers["sup"])
    assert bad.status_code in (400, 422) and bad.json()["detail"]["message_en"]
    resp = client.put(url, json={"agent": "wang"}, headers=headers["sup"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["agent"] == "wang" and resp.json()["source"] == "supervisor"
    assert resp.json()["set_by"] == "sup"

    # wang is away, li serves them: the supervisor's choice stays
    client.post("/api/v1/agent/status", json={"status": "away"}, headers=headers["wang"])
    serve_once(client, headers, PLATINUM, "li")
    client.post("/api/v1/agent/status", json={"status": "online"}, headers=headers["wang"])
    rows = client.get(f"/api/v1/agent/secretaries?user_id={PLATINUM}",
                      headers=headers["sup"]).json()
    assert [(r["agent"], r["source"]) for r in rows] == [("wang", "supervisor")]
    assert say(client, PLATINUM, "转人工")["details"]["handoff"]["preferred_agent"] == "wang"

    assert client.delete(url, headers=headers["sup"]).status_code == 204
    assert client.delete(url, headers=headers["sup"]).status_code == 404
    assert client.get("/api/v1/agent/secretaries", headers=headers["sup"]).json() == []
