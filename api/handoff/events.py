"""Handoff events reach listeners only after the transaction that caused them commits.

Like Chatwoot's dispatcher, a change of a conversation (new state, queue positions, a message
for the widget or the consoles) is recorded while the transaction runs and handed to the hub
in the session's `after_commit` event; a rolled-back change is never announced. The payload
is computed inside the transaction (it sees its own changes), so nothing is read after commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from api.handoff.hub import Hub

_PENDING = "handoff.pending_events"


def publish_after_commit(db: Session, hub: Hub, topic: str, payload: dict[str, Any]) -> None:
    """Queue `payload` for `topic`; it is published when `db` commits, dropped on rollback."""
    pending: list[tuple[Hub, str, dict[str, Any]]] | None = db.info.get(_PENDING)
    if pending is None:
        pending = db.info[_PENDING] = []
        event.listen(db, "after_commit", _dispatch)
        # Every rollback() drops them, also one with no transaction begun since the last commit
        # (after_rollback only fires when the database rolled back).
        event.listen(db, "after_soft_rollback", _discard_soft)
    # Bind the event to a real transaction, so that a rollback() right after this one (with
    # no other statement in between) still drops it.
    db.connection()
    pending.append((hub, topic, payload))


def _dispatch(db: Session) -> None:
    pending = db.info.get(_PENDING) or []
    ready, pending[:] = list(pending), []
    for hub, topic, payload in ready:
        hub.publish(topic, payload)  # never raises; delivery happens on the event loop


def _discard_soft(db: Session, _previous_transaction: object) -> None:
    pending = db.info.get(_PENDING)
    if pending:
        pending.clear()
