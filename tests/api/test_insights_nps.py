"""NPS at the end of every session: bot-only goodbye on web and WeChat, a closing phrase, after
the agent survey; once per session; ignorable; the answer never reaches the NLU."""

from __future__ import annotations

import pytest
from handoff_support import desk_env, login, make_staff
from insights_support import chat, goodbye_rasa, post_survey
from sqlalchemy import select

from api.core import db
from api.insights.nps import is_closing, parse_score
from api.models import NpsResponse, ServiceSession


@pytest.fixture()
def app(tmp_path, monkeypatch, client, fake_rasa):
    fake_rasa.reply = goodbye_rasa
    return client, fake_rasa


@pytest.fixture()
def staff(tmp_path, monkeypatch):
    desk_env(tmp_path, monkeypatch)


def nps_rows() -> list[NpsResponse]:
    with db.get_sessionmaker()() as s:
        return list(s.scalars(select(NpsResponse).order_by(NpsResponse.id)))


def summary(client, headers) -> dict:
    resp = client.get("/api/v1/insights/summary", params={"days": 7}, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_parsing_scores_and_closing_phrases() -> None:
    assert parse_score("9", 0, 10) == 9 and parse_score("９", 0, 10) == 9
    assert parse_score('/nps{"score":10}', 0, 10) == 10 and parse_score("回复0", 0, 10) == 0
    assert parse_score("9分", 0, 10) == 9 and parse_score("11", 0, 10) is None
    assert parse_score("9月账单", 0, 10) is None and parse_score("6", 1, 5) is None
    for text in ("没有了，谢谢", "没有其他问题了", "就这些，再见", "好的，没有了谢谢您", "没事了"):
        assert is_closing(text), text
    for text in ("没有了怎么办", "账单没有了？", "谢谢", "我的卡没有了怎么补办"):
        assert not is_closing(text), text


def test_goodbye_of_a_bot_only_web_conversation_asks_nps_and_9_moves_it(staff, app) -> None:
    client, fake_rasa = app
    make_staff("sup", "supervisor")
    headers = login(client, "sup")
    before = summary(client, headers)
    assert before["nps_responses"] == 0 and before["nps"] is None

    chat(client, "u-web", "账单怎么查")
    bye = chat(client, "u-web", "再见")
    assert bye["outcome"] == "answered"
    question = bye["messages"][-1]
    assert question["type"] == "buttons" and "推荐给朋友" in question["text"]
    assert [b["title"] for b in question["buttons"]] == [str(n) for n in range(11)]
    sent_before = len(fake_rasa.sent)

    answer = chat(client, "u-web", question["buttons"][9]["payload"])  # clicks "9"
    assert answer["outcome"] == "survey" and answer["details"]["nps"]["score"] == 9
    assert len(fake_rasa.sent) == sent_before  # the NLU never saw the score
    follow = answer["messages"][0]
    assert "哪里可以做得更好" in follow["text"] and follow["buttons"][-1]["title"] == "不用了"
    done = chat(client, "u-web", "回答再快一点就好了")
    assert done["outcome"] == "survey" and "感谢" in done["messages"][0]["text"]

    (row,) = nps_rows()
    assert (row.score, row.status, row.channel, row.tier, row.human, row.trigger) == (
        9, "done", "web", "standard", False, "goodbye")
    assert row.comment == "回答再快一点就好了" and row.kb_entries == ["bill-001"]
    after = summary(client, headers)
    assert after["nps_responses"] == 1 and after["nps"] == 100.0  # one promoter

    # a typed 3 from another cardholder (detractor) moves it to 0
    chat(client, "u-web-2", "再见")
    chat(client, "u-web-2", "3")
    chat(client, "u-web-2", "4")  # the follow-up: CSAT 4
    later = summary(client, headers)
    assert later["nps_responses"] == 2 and later["nps"] == 0.0
    assert later["csat_responses"] == 1 and later["csat"] == 4.0


def test_once_per_session_and_ignorable(app) -> None:
    client, fake_rasa = app
    bye = chat(client, "u-ign", "再见")
    assert "推荐给朋友" in bye["messages"][-1]["text"]
    # not an answer: the message goes on to the bot, the question is dropped
    reply = chat(client, "u-ign", "9月的账单怎么查")
    assert reply["outcome"] == "answered" and fake_rasa.sent[-1]["message"] == "9月的账单怎么查"
    assert nps_rows()[0].status == "ignored"
    # the next session asks again; within one session a second goodbye does not
    again = chat(client, "u-ign", "拜拜")
    assert "推荐给朋友" in again["messages"][-1]["text"]
    chat(client, "u-ign", "10")
    chat(client, "u-ign", "不用了")
    with db.get_sessionmaker()() as s:
        session = s.scalars(select(ServiceSession).order_by(ServiceSession.id.desc())).first()
        session.ended_at = None  # pretend the session is still open: no second question
        s.commit()
    third = chat(client, "u-ign", "再见")
    assert all("推荐给朋友" not in m.get("text", "") for m in third["messages"])
    assert [r.status for r in nps_rows()] == ["ignored", "done"]


def test_closing_phrase_asks_too(app) -> None:
    client, _ = app
    reply = chat(client, "u-close", "没有了，谢谢")
    assert "推荐给朋友" in reply["messages"][-1]["text"]
    assert nps_rows()[0].trigger == "closing"


def test_after_agent_survey_nps_follows_without_follow_up(staff, app) -> None:
    client, _ = app
    make_staff("agent9", agent_no="1009")
    headers = login(client, "agent9")
    cid = chat(client, "u-desk", "转人工")["conversation_id"]
    assert client.post(f"/api/v1/agent/conversations/{cid}/accept",
                       headers=headers).status_code == 200
    client.post(f"/api/v1/agent/conversations/{cid}/messages", headers=headers,
                json={"text": "您好，请问有什么可以帮您？"})
    assert client.post(f"/api/v1/agent/conversations/{cid}/resolve",
                       headers=headers).status_code == 200
    closed = post_survey(client, cid, 5, "很好")
    assert "推荐给朋友" in closed["messages"][-1]["text"]
    done = chat(client, "u-desk", "8")
    assert done["outcome"] == "survey" and "感谢" in done["messages"][0]["text"]
    (row,) = nps_rows()
    assert (row.score, row.human, row.trigger, row.status) == (8, True, "survey", "done")
