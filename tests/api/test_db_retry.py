"""The chat route over a lost database connection (issue 17): the gateway's step is retried,
the cardholder gets the answer and the transcript has the line once; a database that stays away
is a 503 `database_unavailable` with Retry-After (bilingual), never a bare 500."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import OperationalError

from api.models import Message
from tests.chat_support import signed


def lost_connection() -> OperationalError:
    return OperationalError("INSERT INTO messages ...", {}, sqlite3.OperationalError(
        "server closed the connection unexpectedly"), connection_invalidated=True)


def test_chat_survives_a_lost_connection_in_the_turn(client, fake_rasa, monkeypatch) -> None:
    """The gateway's first step loses its connection once: the cardholder still gets the bot's
    answer and the transcript has the message exactly once."""
    gateway = client.app.state.gateway
    real_begin = gateway._begin
    failures = []

    def flaky_begin(incoming, db):  # type: ignore[no-untyped-def]
        if not failures:
            failures.append(1)
            raise lost_connection()
        return real_begin(incoming, db)

    monkeypatch.setattr(gateway, "_begin", flaky_begin)
    resp = client.post("/api/v1/chat", json=signed("db-retry-1", "年费怎么收"))
    assert resp.status_code == 200, resp.text
    assert failures == [1] and len(fake_rasa.sent) == 1
    with gateway._sessions() as db:
        lines = db.query(Message).filter(Message.conversation_id == resp.json()["conversation_id"],
                                         Message.sender == "user").count()
    assert lines == 1


def test_a_database_that_stays_away_is_a_503_with_retry_after(client, monkeypatch) -> None:
    from api.core import db as core_db

    gateway = client.app.state.gateway

    def down(_incoming, _db):  # type: ignore[no-untyped-def]
        raise lost_connection()

    monkeypatch.setattr(gateway, "_begin", down)
    # the budget spent at once (the default waits DB_RETRY_SECONDS for the database)
    monkeypatch.setitem(core_db.with_db_retry.__kwdefaults__, "budget", 0.0)
    resp = client.post("/api/v1/chat", json=signed("db-retry-2", "年费怎么收"))
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "2"
    detail = resp.json()["detail"]
    assert detail["code"] == "database_unavailable"
    assert "稍后" in detail["message"] and detail["message_en"]
