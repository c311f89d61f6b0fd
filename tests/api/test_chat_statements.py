"""The SQL of the widget's usual bot turn is pinned (issue 17, the gateway's own CPU per
message): each statement is a round trip and ORM work on the chat path, so one more is a
regression this test names. A usual turn (conversation and service session exist, no survey
pending, no paused tracker) is: the conversation (with the survey and paused-tracker hints in
the same SELECT), the service session, its counters, the user line, the reply's line and the
KB event: six statements and one commit on SQLite (PostgreSQL inserts the lines in one)."""

from __future__ import annotations

from sqlalchemy import event

from api.core import db
from tests.api.test_chat_one_commit import kb_reply
from tests.chat_support import signed


def statements_during(fn):  # type: ignore[no-untyped-def]
    engine = db.get_engine()
    seen: list[str] = []

    def before(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))

    def on_commit(_conn):  # type: ignore[no-untyped-def]
        seen.append("COMMIT")

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", on_commit)
    try:
        result = fn()
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "commit", on_commit)
    return result, seen


def test_a_usual_widget_bot_turn_is_six_statements_and_one_commit(client, fake_rasa) -> None:
    fake_rasa.reply = kb_reply
    assert client.post("/api/v1/chat", json=signed("sql-1", "你好")).status_code == 200
    resp, seen = statements_during(
        lambda: client.post("/api/v1/chat", json=signed("sql-1", "年费怎么收")))
    assert resp.status_code == 200, resp.text
    kinds = [" ".join(s.split()[:3]).replace("INTO ", "").split(" SET")[0]
             if s.startswith(("INSERT", "UPDATE")) else s.split()[0] for s in seen]
    assert kinds == ["SELECT", "SELECT", "UPDATE service_sessions", "INSERT messages",
                     "INSERT messages", "INSERT kb_events", "COMMIT"], \
        "\n".join(s[:90] for s in seen)
    assert "nps_responses" in seen[0] and "handoffs" in seen[0]  # hints in the lookup
    assert "service_sessions" in seen[1]


def test_a_pending_survey_or_a_paused_tracker_is_still_looked_up(client, fake_rasa) -> None:
    """The hints only skip lookups that would find nothing: with a question asked, the turn
    reads it (and takes the answer itself, without the bot)."""
    fake_rasa.reply = lambda body: [{"recipient_id": body["sender"], "text": "再见"},
                                    {"custom": {"meta": {"outcome": "answered", "end": "goodbye"}}}]
    first = client.post("/api/v1/chat", json=signed("sql-2", "再见"))
    assert first.status_code == 200, first.text
    assert "nps" in first.json()["details"]  # the question was asked
    sent = len(fake_rasa.sent)
    resp, seen = statements_during(lambda: client.post("/api/v1/chat",
                                                       json=signed("sql-2", "9")))
    assert resp.status_code == 200, resp.text
    assert resp.json()["outcome"] == "survey"
    assert len(fake_rasa.sent) == sent  # the score never reached the bot
    assert any(s.startswith("SELECT nps_responses") for s in seen)
