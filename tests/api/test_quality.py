"""Quality inspection (质检): the rules on known transcripts, the model's held-out accuracy, the
done-when case through the desk API (promise + full card number -> >= 2 flags), the review."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from handoff_support import desk_env, login, make_staff
from insights_support import chat
from sqlalchemy import select

from api.core import db
from api.models import Message, QualityFlag, QualityInspection
from api.quality import model
from api.quality.rules import Line, inspect_lines

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)


def line(i: int, sender: str, text: str, seconds: float) -> Line:
    return Line(i, sender, text, T0 + timedelta(seconds=seconds))


def rules_of(lines: list[Line], assigned_after: float = 0) -> dict[str, list[int | None]]:
    found: dict[str, list[int | None]] = {}
    for f in inspect_lines(lines, T0 + timedelta(seconds=assigned_after),
                           first_response_seconds=60, reply_seconds=180):
        found.setdefault(f.rule, []).append(f.message_id)
    return found


def test_a_clean_episode_has_no_findings() -> None:
    assert rules_of([
        line(1, "user", "我的账单日能改吗？", 0),
        line(2, "agent", "您好，很高兴为您服务。账单日每年可以修改一次。", 20),
        line(3, "user", "好的谢谢", 60),
        line(4, "agent", "请问还有其他问题吗？感谢您的耐心。", 80),
    ]) == {}


def test_each_rule_cites_its_message() -> None:
    found = rules_of([
        line(1, "user", "年费能免吗", 0),
        line(2, "agent", "这个我保证给您免掉", 100),  # no greeting, slow first response, promise
        line(3, "user", "那我的卡号是多少", 110),
        line(4, "agent", "您的卡号是[卡号****7890]，你自己看", 400),  # slow, PII, impolite
        line(5, "user", "额度多少？", 410),  # never answered
    ])
    assert found == {"no_greeting": [2], "no_closing": [4], "slow_first_response": [2],
                     "forbidden_promise": [2], "slow_reply": [4], "pii_typed": [4],
                     "impolite": [4], "unanswered": [5]}
    assert "forbidden_promise" not in rules_of([line(1, "agent", "您好，这个我们无法保证", 10)])


def test_model_accuracy_on_the_held_out_set_it_never_trained_on() -> None:
    train_texts, _ = model.load(model.TRAIN)
    held_texts, held_labels = model.load(model.HELDOUT)
    assert not set(train_texts) & set(held_texts)
    result = model.evaluate()
    majority = max(sum(held_labels), len(held_labels) - sum(held_labels)) / len(held_labels)
    assert result["n"] == 50 and result["accuracy"] >= 0.9 > majority
    risk = model.get_model().risk(["你们这什么破服务，我要投诉到银保监会", "请问怎么查账单"])
    assert risk[0] > 0.5 > risk[1]


@pytest.fixture()
def desk(tmp_path, monkeypatch, client, fake_rasa):
    desk_env(tmp_path, monkeypatch)
    from insights_support import goodbye_rasa

    fake_rasa.reply = goodbye_rasa
    make_staff("agent5", agent_no="1005")
    make_staff("boss", "supervisor")
    make_staff("opsy", "ops")
    return client


def test_promise_and_full_card_number_give_at_least_two_flags_and_review(desk) -> None:
    client = desk
    agent = login(client, "agent5")
    cid = chat(client, "u-qa", "转人工")["conversation_id"]
    assert client.post(f"/api/v1/agent/conversations/{cid}/accept",
                       headers=agent).status_code == 200
    chat(client, "u-qa", "我的年费能退吗")
    for text in ("您好，我一定给您退掉年费", "您的卡号是6222021234567890123，已经登记"):
        assert client.post(f"/api/v1/agent/conversations/{cid}/messages", headers=agent,
                           json={"text": text}).status_code == 200
    assert client.post(f"/api/v1/agent/conversations/{cid}/resolve",
                       headers=agent).status_code == 200
    boss = login(client, "boss")
    resp = client.get("/api/v1/quality/flags", params={"conversation_id": cid}, headers=boss)
    assert resp.status_code == 200
    items = resp.json()["items"]
    rules = {i["rule"] for i in items}
    assert len(items) >= 2 and {"forbidden_promise", "pii_typed"} <= rules
    pii = next(i for i in items if i["rule"] == "pii_typed")
    assert "6222021234567890123" not in pii["excerpt"] and "[卡号****0123]" in pii["excerpt"]
    with db.get_sessionmaker()() as s:
        stored = s.get(Message, pii["message_id"])
        assert stored.sender == "agent" and "6222021234567890123" not in stored.text
        assert s.scalars(select(QualityInspection)).one().flags == len(items)
    promise = next(i for i in items if i["rule"] == "forbidden_promise")
    assert promise["excerpt"] == "您好，我一定给您退掉年费" and promise["rule_label"] == "违规承诺"

    # review queue: ops may read, only supervisors review
    queue = client.get("/api/v1/quality/flags", params={"status": "open"},
                       headers=login(client, "opsy")).json()["items"]
    assert {i["id"] for i in queue} == {i["id"] for i in items}
    assert client.post(f"/api/v1/quality/flags/{promise['id']}/review", headers=agent,
                       json={"decision": "dismissed"}).status_code == 403
    done = client.post(f"/api/v1/quality/flags/{promise['id']}/review", headers=boss,
                       json={"decision": "accepted", "note": "已辅导"})
    assert done.status_code == 200 and done.json()["status"] == "accepted"
    assert client.post("/api/v1/quality/flags/999999/review", headers=boss,
                       json={"decision": "accepted"}).status_code == 404
    with db.get_sessionmaker()() as s:
        assert s.get(QualityFlag, promise["id"]).review_note == "已辅导"


def test_an_angry_cardholder_line_gets_the_model_flag_citing_it(desk) -> None:
    """The model signal is part of the inspection of a resolved episode: the cardholder's
    angriest line is cited with its risk; a calm episode gets no model flag."""
    client = desk
    agent = login(client, "agent5")
    boss = login(client, "boss")

    def episode(user: str, lines: list[str]) -> list[dict]:
        cid = chat(client, user, "转人工")["conversation_id"]
        assert client.post(f"/api/v1/agent/conversations/{cid}/accept",
                           headers=agent).status_code == 200
        client.post(f"/api/v1/agent/conversations/{cid}/messages", headers=agent,
                    json={"text": "您好，很高兴为您服务，请问有什么可以帮您？"})
        for text in lines:
            chat(client, user, text)
        client.post(f"/api/v1/agent/conversations/{cid}/messages", headers=agent,
                    json={"text": "已为您处理好了，请问还有其他问题吗？感谢您的耐心。"})
        assert client.post(f"/api/v1/agent/conversations/{cid}/resolve",
                           headers=agent).status_code == 200
        return client.get("/api/v1/quality/flags", params={"conversation_id": cid},
                          headers=boss).json()["items"]

    angry = "你们这什么破服务，我要投诉到银保监会"
    flags = episode("u-angry", ["我的年费为什么又扣了", angry])
    risk = [f for f in flags if f["rule"] == "escalation_risk"]
    assert len(risk) == 1 and risk[0]["excerpt"] == angry
    assert risk[0]["details"]["risk"] >= risk[0]["details"]["threshold"] == 0.5
    with db.get_sessionmaker()() as s:
        cited = s.get(Message, risk[0]["message_id"])
        assert cited.sender == "user" and cited.text == angry
    calm = episode("u-calm", ["我的账单日是几号", "好的，谢谢"])
    assert all(f["rule"] != "escalation_risk" for f in calm)
