"""The explicit state machine: allowed and refused transitions, race-safe conditional update."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

import migrations
from api.handoff.state import (
    TRANSITIONS,
    InvalidTransition,
    State,
    StateConflict,
    apply,
    next_state,
)
from api.models import Conversation, Transition

VALID = [
    ("bot", "request", "queued"),
    ("bot", "leave_message", "ticket"),
    ("queued", "accept", "assigned"),
    ("queued", "cancel", "bot"),
    ("queued", "timeout", "ticket"),
    ("assigned", "transfer", "queued"),
    ("assigned", "resolve", "resolved"),
    ("resolved", "survey_done", "bot"),
    ("ticket", "ticket_done", "bot"),
]
EVENTS = sorted({e for _s, e, _t in VALID})


@pytest.fixture()
def sessions(tmp_path) -> sessionmaker[Session]:
    engine = create_engine(f"sqlite:///{tmp_path}/state.db",
                           connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _wal(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.execute("PRAGMA journal_mode=WAL")

    migrations.upgrade("service", engine=engine)
    return sessionmaker(bind=engine, expire_on_commit=False)


def new_conversation(sessions, state: str = "bot") -> str:
    with sessions() as s:
        conv = Conversation(channel="web", user_id=f"u-{uuid.uuid4()}", state=state)
        s.add(conv)
        s.commit()
        return conv.id


def test_the_table_is_exactly_the_documented_machine() -> None:
    assert {(s.value, e): t.value for (s, e), t in TRANSITIONS.items()} == {
        (s, e): t for s, e, t in VALID}


@pytest.mark.parametrize(("source", "event_name", "target"), VALID)
def test_valid_transitions(source, event_name, target) -> None:
    assert next_state(source, event_name) == State(target)


@pytest.mark.parametrize("source", [s.value for s in State])
@pytest.mark.parametrize("event_name", EVENTS + ["explode"])
def test_everything_else_is_refused(source, event_name) -> None:
    if (source, event_name) in {(s, e) for s, e, _t in VALID}:
        return
    with pytest.raises(InvalidTransition):
        next_state(source, event_name)


def test_unknown_state_is_refused() -> None:
    with pytest.raises(InvalidTransition):
        next_state("limbo", "request")


def test_apply_walks_the_main_path_with_timestamps(sessions) -> None:
    cid = new_conversation(sessions)
    with sessions() as s:
        for event_name in ("request", "accept", "resolve", "survey_done"):
            apply(s, cid, event_name, actor="test")
            s.commit()
        rows = s.scalars(select(Transition).order_by(Transition.id)).all()
        assert s.get(Conversation, cid).state == "bot"
    assert [(r.from_state, r.to_state, r.event) for r in rows] == [
        ("bot", "queued", "request"), ("queued", "assigned", "accept"),
        ("assigned", "resolved", "resolve"), ("resolved", "bot", "survey_done")]
    stamps = [r.at for r in rows]
    assert all(stamps) and stamps == sorted(stamps)


def test_invalid_event_changes_nothing(sessions) -> None:
    cid = new_conversation(sessions)
    with sessions() as s:
        with pytest.raises(InvalidTransition):
            apply(s, cid, "accept", actor="test")
        s.rollback()
        assert s.get(Conversation, cid).state == "bot"
        assert s.scalars(select(Transition)).all() == []


def test_stale_expectation_loses(sessions) -> None:
    """The caller saw `queued`, but someone accepted meanwhile: the update matches no row."""
    cid = new_conversation(sessions, "queued")
    with sessions() as s:
        apply(s, cid, "accept", actor="agent:a", expected=State.QUEUED)
        s.commit()
    with sessions() as s:
        with pytest.raises(StateConflict):
            apply(s, cid, "cancel", actor="user", expected=State.QUEUED)
        s.rollback()
        assert s.get(Conversation, cid).state == "assigned"


def test_concurrent_accepts_exactly_one_wins(sessions) -> None:
    """Eight threads that all saw `queued` try to accept at the same instant."""
    for _round in range(5):
        cid = new_conversation(sessions, "queued")
        barrier = threading.Barrier(8)

        def accept(n: int, cid: str = cid, barrier: threading.Barrier = barrier) -> str:
            with sessions() as s:
                barrier.wait()
                try:
                    apply(s, cid, "accept", actor=f"agent:{n}", expected=State.QUEUED)
                    s.commit()
                    return "won"
                except StateConflict:
                    s.rollback()
                    return "lost"

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(accept, range(8)))
        assert results.count("won") == 1, results
        with sessions() as s:
            rows = s.scalars(select(Transition).where(Transition.conversation_id == cid)).all()
            assert len(rows) == 1 and s.get(Conversation, cid).state == "assigned"
