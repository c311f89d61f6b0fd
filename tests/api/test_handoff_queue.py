"""Queue: priority order (fraud, then tier, then wait), VIP group, capacity, race-safe accept."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from handoff_support import desk_env, login, make_staff, say, scripted_rasa
from sqlalchemy import select

from api.core import db
from api.models import Handoff
from tests.chat_support import owner


@pytest.fixture()
def hclient(tmp_path, monkeypatch):
    desk_env(tmp_path, monkeypatch)
    monkeypatch.setenv("HANDOFF_AVG_HANDLE_SECONDS", "300")


@pytest.fixture()
def desk(hclient, client, fake_rasa):
    fake_rasa.reply = scripted_rasa
    make_staff("sup", role="supervisor", agent_no="2001")
    return client, login(client, "sup")


def test_platinum_goes_to_vip_group_ahead_of_earlier_standard_and_gold(desk) -> None:
    client, headers = desk
    standard = say(client, "demo-standard-001", "转人工")
    gold = say(client, "demo-gold-001", "转人工")
    platinum = say(client, "demo-platinum-001", "转人工")
    assert standard["details"]["handoff"]["tier"] == "standard"
    assert gold["details"]["handoff"]["tier"] == "gold"
    assert platinum["details"]["queue"]["group"] == "vip"
    assert platinum["details"]["queue"]["position"] == 1
    assert any("白金卡" in m["text"] for m in platinum["messages"])
    items = client.get("/api/v1/agent/queue", headers=headers).json()["items"]
    assert [i["user_id"] for i in items] == [
        "demo-platinum-001", "demo-gold-001", "demo-standard-001"]
    assert [i["tier_label"] for i in items] == ["白金卡", "金卡", "普卡"]
    # inside the general group the gold card went ahead of the standard one that came first
    assert {i["user_id"]: i["position"] for i in items} == {
        "demo-platinum-001": 1, "demo-gold-001": 1, "demo-standard-001": 2}
    status = client.get(f"/api/v1/chat/{standard['conversation_id']}/status",
                        headers=owner(standard['conversation_id'])).json()
    assert status["queue"]["position"] == 2


def test_fraud_jumps_the_queue_and_goes_to_disputes(desk) -> None:
    client, headers = desk
    say(client, "demo-gold-001", "转人工")
    complaint = say(client, "u-complaint", "我要投诉")
    fraud = say(client, "u-fraud", "我的卡被盗刷了")
    assert complaint["details"]["handoff"]["reason"] == "complaint"
    assert fraud["details"]["handoff"] == {"reason": "fraud_dispute", "group": "disputes",
                                           "priority": True, "tier": "standard"}
    items = client.get("/api/v1/agent/queue", headers=headers).json()["items"]
    assert items[0]["user_id"] == "u-fraud" and items[0]["priority"] is True
    assert [i["user_id"] for i in items[1:]] == ["demo-gold-001", "u-complaint"]


def test_configured_priority_reasons(hclient, client, fake_rasa, monkeypatch) -> None:
    """HANDOFF_PRIORITY_REASONS makes e.g. complaints jump the queue too."""
    fake_rasa.reply = scripted_rasa
    handoff = client.app.state.gateway.handoff
    handoff.priority_reasons = frozenset({"fraud_dispute", "complaint"})
    say(client, "demo-platinum-001", "转人工")
    say(client, "u-early", "转人工")
    reply = say(client, "u-angry", "我要投诉")
    assert reply["details"]["handoff"]["priority"] is True
    assert reply["details"]["queue"]["position"] == 1


def test_estimated_wait_uses_online_agents_and_refreshes(desk) -> None:
    client, headers = desk
    client.post("/api/v1/agent/status", headers=headers, json={"status": "away"})
    cids = [say(client, f"u-wait-{i}", "转人工")["conversation_id"] for i in range(3)]
    third = client.get(f"/api/v1/chat/{cids[2]}/status", headers=owner(cids[2])).json()["queue"]
    assert third["position"] == 3 and third["agents_online"] == 0
    assert third["estimated_wait_seconds"] == 3 * 300  # nobody online: one agent assumed
    make_staff("a1", status="online")
    make_staff("a2", status="online")
    third = client.get(f"/api/v1/chat/{cids[2]}/status", headers=owner(cids[2])).json()["queue"]
    assert third["agents_online"] == 2 and third["estimated_wait_seconds"] == 2 * 300
    a1 = login(client, "a1")
    assert client.post(f"/api/v1/agent/conversations/{cids[0]}/accept",
                       headers=a1).status_code == 200
    third = client.get(f"/api/v1/chat/{cids[2]}/status", headers=owner(cids[2])).json()["queue"]
    assert third["position"] == 2


def test_away_agent_cannot_accept_and_capacity_is_enforced(desk) -> None:
    client, _headers = desk
    make_staff("small", capacity=1, status="away")
    small = login(client, "small")
    first = say(client, "u-cap-1", "转人工")["conversation_id"]
    second = say(client, "u-cap-2", "转人工")["conversation_id"]
    resp = client.post(f"/api/v1/agent/conversations/{first}/accept", headers=small)
    assert resp.status_code == 409 and resp.json()["detail"]["code"] == "agent_not_online"
    me = client.post("/api/v1/agent/status", headers=small, json={"status": "online"}).json()
    assert me["status"] == "online"
    assert client.post("/api/v1/agent/status", headers=small,
                       json={"status": "sleeping"}).status_code == 422
    assert client.post(f"/api/v1/agent/conversations/{first}/accept",
                       headers=small).status_code == 200
    resp = client.post(f"/api/v1/agent/conversations/{second}/accept", headers=small)
    assert resp.status_code == 409 and resp.json()["detail"]["code"] == "capacity_full"
    client.post(f"/api/v1/agent/conversations/{first}/resolve", headers=small)
    assert client.post(f"/api/v1/agent/conversations/{second}/accept",
                       headers=small).status_code == 200


def test_two_agents_accept_concurrently_exactly_one_wins(desk) -> None:
    client, _headers = desk
    make_staff("racer1")
    make_staff("racer2")
    tokens = [login(client, "racer1"), login(client, "racer2")]
    for round_no in range(5):
        cid = say(client, f"u-race-{round_no}", "转人工")["conversation_id"]
        barrier = threading.Barrier(2)

        def grab(headers, cid=cid, barrier=barrier):
            barrier.wait()
            return client.post(f"/api/v1/agent/conversations/{cid}/accept", headers=headers)

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(grab, tokens))
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 409], [r.text for r in results]
        loser = next(r for r in results if r.status_code == 409)
        assert loser.json()["detail"]["code"] == "not_queued"
        with db.get_sessionmaker()() as s:
            handoff = s.scalars(select(Handoff).where(Handoff.conversation_id == cid)).one()
            winner = next(r for r in results if r.status_code == 200)
            assert handoff.agent_id is not None
            assert winner.json()["agent"]["id"] == handoff.agent_id
        # free both agents for the next round
        client.post(f"/api/v1/agent/conversations/{cid}/resolve",
                    headers=tokens[[r.status_code for r in results].index(200)])
