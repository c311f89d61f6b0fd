"""The conversation state machine, explicit: (state, event) -> next state.

    bot ──request──► queued ──accept──► assigned ──resolve──► resolved ──survey_done──► bot
     │                 │  ▲                 │
     │                 │  └────transfer─────┘
     │                 ├──cancel──► bot
     │                 └──timeout─► ticket ──ticket_done──► bot
     └──leave_message (outside working hours)──► ticket

`resolved` lasts while the satisfaction survey is open; `ticket` while the cardholder leaves
a message and a callback number. Every change is a conditional UPDATE (… WHERE state = <from>),
so of two concurrent changes from the same state exactly one wins, and each is recorded with a
timestamp in `conversation_transitions`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.models import Conversation, Transition, utcnow
from vocab import State

__all__ = ["EVENTS", "TRANSITIONS", "InvalidTransition", "State", "StateConflict", "apply",
           "current_state", "next_state"]

TRANSITIONS: dict[tuple[State, str], State] = {
    (State.BOT, "request"): State.QUEUED,
    (State.BOT, "leave_message"): State.TICKET,
    (State.QUEUED, "accept"): State.ASSIGNED,
    (State.QUEUED, "cancel"): State.BOT,
    (State.QUEUED, "timeout"): State.TICKET,
    (State.ASSIGNED, "transfer"): State.QUEUED,
    (State.ASSIGNED, "resolve"): State.RESOLVED,
    (State.RESOLVED, "survey_done"): State.BOT,
    (State.TICKET, "ticket_done"): State.BOT,
}
EVENTS = frozenset(event for _state, event in TRANSITIONS)


class InvalidTransition(Exception):
    """The event is not allowed in the conversation's current state."""

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"event {event!r} is not allowed in state {state!r}")
        self.state = state
        self.event = event


class StateConflict(Exception):
    """Someone else changed the state first (the conditional update matched no row)."""

    def __init__(self, expected: str, event: str) -> None:
        super().__init__(f"state changed concurrently (expected {expected!r} for {event!r})")
        self.expected = expected
        self.event = event


def next_state(state: str, event: str) -> State:
    """The state `event` leads to from `state`; InvalidTransition if there is none."""
    try:
        return TRANSITIONS[(State(state), event)]
    except (KeyError, ValueError):
        raise InvalidTransition(state, event) from None


def current_state(db: Session, conversation_id: str) -> State:
    """The stored state of a conversation (KeyError if it does not exist)."""
    state = db.scalar(select(Conversation.state).where(Conversation.id == conversation_id))
    if state is None:
        raise KeyError(conversation_id)
    return State(state)


def apply(db: Session, conversation_id: str, event: str, *, actor: str,
          handoff_id: int | None = None, expected: State | None = None,
          details: dict[str, Any] | None = None) -> Transition:
    """Move the conversation along `event`, race-safely; the caller commits.

    `expected` is the state the caller saw; the UPDATE only matches while the row is still in
    it. Raises InvalidTransition (event not allowed there) or StateConflict (lost a race).
    """
    source = expected if expected is not None else current_state(db, conversation_id)
    target = next_state(source, event)
    now = utcnow()
    result = db.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.state == source.value)
        .values(state=target.value, updated_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StateConflict(source.value, event)
    row = Transition(conversation_id=conversation_id, handoff_id=handoff_id,
                     from_state=source.value, to_state=target.value, event=event, actor=actor,
                     at=now, details=details)
    db.add(row)
    return row
