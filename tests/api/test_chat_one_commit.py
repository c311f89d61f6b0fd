"""The widget's usual bot turn stores the user line with the reply, in one transaction
(issue 17, latency): one commit per message, the line before the reply's lines, the KB event
pointing at it and the turn counted on its service session; a turn that fails before the reply
is stored answers no 200 and stores nothing; the degraded answer stores the line too."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from api.core import db
from api.models import KBEvent, Message, ServiceSession
from tests.chat_support import signed


def kb_reply(body):  # type: ignore[no-untyped-def]
    return [{"recipient_id": body["sender"], "text": "年费规则……"},
            {"custom": {"meta": {"outcome": "answered",
                                 "kb": {"entry_id": "fee-001", "score": 0.95, "release": 1}}}}]


def commits_during(fn):  # type: ignore[no-untyped-def]
    engine = db.get_engine()
    seen: list[int] = []

    def on_commit(_conn):  # type: ignore[no-untyped-def]
        seen.append(1)

    event.listen(engine, "commit", on_commit)
    try:
        result = fn()
    finally:
        event.remove(engine, "commit", on_commit)
    return result, len(seen)


def lines(conversation_id: str) -> list[Message]:
    with db.get_sessionmaker()() as s:
        return list(s.scalars(select(Message).where(Message.conversation_id == conversation_id)
                              .order_by(Message.id)))


def test_a_usual_bot_turn_is_one_commit_with_the_line_first(client, fake_rasa) -> None:
    fake_rasa.reply = kb_reply
    first = client.post("/api/v1/chat", json=signed("one-commit-1", "你好"))
    assert first.status_code == 200
    resp, commits = commits_during(
        lambda: client.post("/api/v1/chat", json=signed("one-commit-1", "年费怎么收")))
    assert resp.status_code == 200, resp.text
    assert commits == 1  # the conversation and its session exist: the turn is one commit
    body = resp.json()
    rows = lines(body["conversation_id"])
    assert [(r.sender, r.text) for r in rows[-2:]] == [("user", "年费怎么收"),
                                                       ("bot", "年费规则……")]
    assert rows[-2].created_at <= rows[-1].created_at
    assert body["messages"][0]["id"] == rows[-1].id
    with db.get_sessionmaker()() as s:
        kb_event = s.get(KBEvent, body["details"]["kb_event_id"])
        assert kb_event is not None and kb_event.user_message_id == rows[-2].id
        session = s.scalars(select(ServiceSession).where(
            ServiceSession.conversation_id == body["conversation_id"])).one()
        assert session.turns == 2 and session.answered == 2


def test_a_turn_that_fails_before_its_reply_is_stored_stores_nothing(client, fake_rasa,
                                                                    monkeypatch) -> None:
    """No 200, nothing accepted: neither the line nor a reply is in the transcript."""
    ok = client.post("/api/v1/chat", json=signed("one-commit-2", "你好"))
    conversation_id = ok.json()["conversation_id"]
    before = len(lines(conversation_id))
    gateway = client.app.state.gateway

    def broken(*_a, **_k):  # type: ignore[no-untyped-def]
        raise RuntimeError("crash before the reply is stored")

    monkeypatch.setattr(gateway, "_finish", broken)
    with pytest.raises(RuntimeError):
        client.post("/api/v1/chat", json=signed("one-commit-2", "还在吗"))
    assert len(fake_rasa.sent) == 2  # the bot was asked
    assert len(lines(conversation_id)) == before


def test_the_degraded_answer_stores_the_deferred_line(client, fake_rasa) -> None:
    client.post("/api/v1/chat", json=signed("one-commit-3", "你好"))
    fake_rasa.down = True
    resp = client.post("/api/v1/chat", json=signed("one-commit-3", "年费怎么收"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["details"].get("degraded") is True
    rows = lines(body["conversation_id"])
    assert [r.sender for r in rows].count("user") == 2
    assert rows[-len(body["messages"]) - 1].text == "年费怎么收"


def test_a_channel_that_acknowledges_before_the_reply_stores_the_line_first(client,
                                                                          fake_rasa) -> None:
    """WeChat answers its server before the reply may be ready: the line is stored before the
    bot is asked (no `acked_by_reply`)."""
    import anyio

    from api.conversation.gateway import IncomingMessage

    seen: list[list[str]] = []

    def reply(body):  # type: ignore[no-untyped-def]
        seen.append([r.text for r in lines(body["sender"]) if r.sender == "user"])
        return [{"recipient_id": body["sender"], "text": "好的"}]

    fake_rasa.reply = reply
    gateway = client.app.state.gateway
    incoming = IncomingMessage(channel="wechat", user_id="wx-one-commit", text="年费怎么收")
    got = anyio.run(gateway.handle, incoming)
    assert seen == [["年费怎么收"]]
    assert [r.sender for r in lines(got.conversation_id)] == ["user", "bot"]
