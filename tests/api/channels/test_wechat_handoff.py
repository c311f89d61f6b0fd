"""Human handoff over WeChat: queue updates, the agent's messages and the survey reach the
cardholder through the customer-service API; their messages reach the agent desk."""

from __future__ import annotations

import threading

import pytest
from handoff_support import login, make_staff, say, scripted_rasa
from sqlalchemy import select
from wechat_fakes import FakeWeChat, Wx, text_xml, wait_for

from api.channels.outbox import Outbound
from api.core import db
from api.models import Conversation, Survey, WeChatOutbound

OPENID = "oWx_handoff_user_0001"


@pytest.fixture()
def handoff_env(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CARD_DB_URL", f"sqlite:///{tmp_path}/cards.db")
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")


@pytest.fixture()
def desk(handoff_env, wx: Wx, fake_rasa):
    fake_rasa.reply = scripted_rasa
    make_staff("agent7", agent_no="1007")
    return wx, fake_rasa, login(wx.client, "agent7")


def state_of(conversation_id: str) -> str:
    with db.get_sessionmaker()() as s:
        return s.get(Conversation, conversation_id).state


def test_handoff_round_trip_over_wechat(desk, fake_wechat: FakeWeChat) -> None:
    wx, fake_rasa, headers = desk
    client = wx.client
    # a web cardholder is already waiting, so the WeChat user is second in the queue
    web = say(client, "u-web", "转人工")
    assert web["details"]["queue"]["position"] == 1

    queued = wx.reply(wx.post(text_xml(OPENID, "转人工", 1), OPENID))["Content"]
    assert "排在第 2 位" in queued and "回复1 取消排队" in queued
    with db.get_sessionmaker()() as s:
        conv = s.scalars(select(Conversation).where(Conversation.channel == "wechat")).one()
    cid = conv.id
    assert state_of(cid) == "queued"
    assert client.app.state.handoff_relay.following(cid)

    # the web user gives up: the WeChat user moves up and is told so
    say(client, "u-web", "取消排队")
    assert wait_for(lambda: any("排在第 1 位" in t for t in fake_wechat.texts(OPENID)))

    # the agent accepts: the greeting is pushed to WeChat
    resp = client.post(f"/api/v1/agent/conversations/{cid}/accept", headers=headers)
    assert resp.status_code == 200, resp.text
    assert wait_for(lambda: any("人工客服 1007 号为您服务" in t
                                for t in fake_wechat.texts(OPENID)))

    # the cardholder writes on WeChat: it goes to the desk, not to Rasa; WeChat gets success
    rasa_calls = len(fake_rasa.sent)
    to_agent = wx.post(text_xml(OPENID, "我的卡被冻结了", 2), OPENID)
    assert to_agent.status_code == 200 and to_agent.text == "success"
    assert len(fake_rasa.sent) == rasa_calls
    detail = client.get(f"/api/v1/agent/conversations/{cid}", headers=headers).json()
    assert any(m["sender"] == "user" and m["text"] == "我的卡被冻结了"
               for m in detail["messages"])

    # the agent answers: pushed through the customer-service API
    sent = client.post(f"/api/v1/agent/conversations/{cid}/messages", headers=headers,
                       json={"text": "您好，我是 1007 号，马上为您查询。"})
    assert sent.status_code == 200
    assert wait_for(lambda: "您好，我是 1007 号，马上为您查询。" in fake_wechat.texts(OPENID))

    # resolve: the survey arrives as numbered options; "4" answers it
    resp = client.post(f"/api/v1/agent/conversations/{cid}/resolve", headers=headers)
    assert resp.status_code == 200
    assert wait_for(lambda: any("回复5 5" in t for t in fake_wechat.texts(OPENID)))
    survey_reply = wx.post(text_xml(OPENID, "4", 3), OPENID)
    assert survey_reply.status_code == 200
    assert state_of(cid) == "resolved"
    with db.get_sessionmaker()() as s:
        assert s.scalars(select(Survey)).one().score == 4
    wx.post(text_xml(OPENID, "服务很好", 4), OPENID)
    assert state_of(cid) == "bot"
    assert wait_for(lambda: not client.app.state.handoff_relay.following(cid))

    # every push was delivered and recorded, in order
    with db.get_sessionmaker()() as s:
        rows = s.scalars(select(WeChatOutbound).order_by(WeChatOutbound.id)).all()
    assert rows and all(r.status == "sent" and r.conversation_id == cid for r in rows)
    assert {r.source for r in rows} >= {"queue", "system", "agent"}
    texts = fake_wechat.texts(OPENID)
    assert texts.index(next(t for t in texts if "1007 号为您服务" in t)) < texts.index(
        "您好，我是 1007 号，马上为您查询。")


def test_outbox_publish_is_thread_safe_and_ignores_channels_without_outbox(
        wx: Wx, fake_wechat: FakeWeChat) -> None:
    outboxes = wx.client.app.state.outboxes
    message = Outbound("conv-1", OPENID, [{"type": "text", "text": "您的补卡已寄出"}], "system")
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(outboxes.publish("wechat", message)))
    thread.start()
    thread.join()
    assert results == [True]
    assert wait_for(lambda: fake_wechat.texts(OPENID) == ["您的补卡已寄出"])
    assert outboxes.publish("web", message) is False
    fake_wechat.closed_window.add(OPENID)
    assert outboxes.publish("wechat", message)

    def statuses() -> list[str]:
        with db.get_sessionmaker()() as s:
            return [r.status for r in s.scalars(select(WeChatOutbound).order_by(
                WeChatOutbound.id))]

    assert wait_for(lambda: statuses() == ["sent", "undeliverable"])
    assert fake_wechat.send_attempts == 2
