"""What every part of the handoff shares: configuration, the transcript writer, the open
episode, race-safe state changes, and events announced after commit.

The handoff service is one class built in layers, each file one role (lowest first):
`core` -> `read_models` -> `rasa_sync` -> `tickets` -> `cardholder` -> `desk` -> `service`.
Every state change goes through `api.handoff.state.apply` (conditional UPDATE + timestamped
transition row); services raise `vocab.DomainError`, never HTTP errors.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.core.config import Settings
from api.core.vault import PiiVault
from api.handoff import queue as hq
from api.handoff.events import publish_after_commit
from api.handoff.hours import WorkingHours
from api.handoff.hub import STAFF, Hub, conversation_topic
from api.handoff.profiles import ProfileLookup
from api.handoff.state import InvalidTransition, StateConflict, apply
from api.handoff.views import MessageView, message_view
from api.models import Conversation, Handoff, Message, StaffUser, Transition, utcnow
from pii import mask
from vocab import DESK_ROLES, DomainError, ErrorKind, MessageType, State


def conflict(code: str, zh: str, en: str, **extra: Any) -> DomainError:
    return DomainError(ErrorKind.CONFLICT, code, zh, en, **extra)


def conversation_not_found() -> DomainError:
    return DomainError(ErrorKind.NOT_FOUND, "conversation_not_found", "没有找到这个会话。",
                       "conversation_id not found")


class HandoffCore:
    """The human desk of one API process: shared state and helpers."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, hub: Hub,
                 profiles: ProfileLookup | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self.settings = settings
        self.vault = PiiVault(settings.pii_encryption_key)  # ticket callback numbers at rest
        self.hub = hub
        self.profiles = profiles or ProfileLookup(settings.card_db_url)
        self.clock = clock
        self.hours = WorkingHours.parse(settings.handoff_hours, settings.handoff_weekdays,
                                        settings.handoff_timezone)
        self.priority_reasons = frozenset(
            r.strip() for r in settings.handoff_priority_reasons.split(",") if r.strip())

    # ---- transcript and episodes

    def _store(self, db: Session, conversation_id: str, sender: str, text: str, *,
               outcome: str | None = None, buttons: list[dict[str, str]] | None = None,
               extra: dict[str, Any] | None = None) -> MessageView:
        payload: dict[str, Any] = dict(extra or {})
        if buttons:
            payload["buttons"] = buttons
        row = Message(conversation_id=conversation_id, sender=sender,
                      type=(MessageType.BUTTONS if buttons else MessageType.TEXT).value,
                      text=mask(text), payload=payload or None, outcome=outcome,
                      created_at=self.clock())
        db.add(row)
        db.flush()
        return message_view(row)

    @staticmethod
    def current(db: Session, conversation_id: str) -> Handoff | None:
        """The open handoff episode of a conversation, if any."""
        return db.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id,
                                                Handoff.ended_at.is_(None))
                          .order_by(Handoff.id.desc())).first()

    @staticmethod
    def _require_conversation(db: Session, conversation_id: str) -> Conversation:
        conv = db.get(Conversation, conversation_id)
        if conv is None:
            raise conversation_not_found()
        return conv

    def _queued(self, db: Session) -> list[Handoff]:
        return list(db.scalars(
            select(Handoff).join(Conversation, Conversation.id == Handoff.conversation_id)
            .where(Conversation.state == State.QUEUED.value, Handoff.ended_at.is_(None))))

    def _desk_staff(self, db: Session) -> list[StaffUser]:
        return list(db.scalars(select(StaffUser).where(StaffUser.role.in_(DESK_ROLES),
                                                       StaffUser.active.is_(True))))

    # ---- state changes

    def _apply(self, db: Session, conversation_id: str, event: str, actor: str,
               handoff: Handoff | None, expected: State | None = None,
               details: dict[str, Any] | None = None) -> Transition:
        try:
            return apply(db, conversation_id, event, actor=actor,
                         handoff_id=handoff.id if handoff else None, expected=expected,
                         details=details)
        except InvalidTransition as exc:
            db.rollback()
            raise conflict("invalid_state", "当前会话状态不允许此操作。",
                           f"'{event}' is not allowed in state '{exc.state}'.",
                           state=exc.state) from exc
        except StateConflict as exc:
            db.rollback()
            raise conflict("state_changed", "会话状态已变化，请刷新后重试。",
                           "The conversation changed state meanwhile; reload and retry.") from exc

    def _finish(self, db: Session, handoff: Handoff, event: str, actor: str,
                end_reason: str) -> None:
        """End the episode: back to the bot (the caller commits, then resumes Rasa)."""
        self._apply(db, handoff.conversation_id, event, actor, handoff)
        handoff.ended_at = self.clock()
        handoff.end_reason = handoff.end_reason or end_reason

    # ---- events (announced when the caller's transaction commits)

    def _emit(self, db: Session, topic: str, payload: dict[str, Any]) -> None:
        publish_after_commit(db, self.hub, topic, payload)

    def _emit_message(self, db: Session, conversation_id: str, message: MessageView, *,
                      to_user: bool) -> None:
        if to_user:
            self._emit(db, conversation_topic(conversation_id),
                       {"type": "message", "message": message})
        self._emit(db, STAFF, {"type": "message", "conversation_id": conversation_id,
                               "message": message})

    def _emit_positions(self, db: Session) -> None:
        """Everyone still waiting gets their (maybe better) position; consoles the queue size."""
        queued = self._queued(db)
        staff = self._desk_staff(db)
        for h in queued:
            topic = conversation_topic(h.conversation_id)
            if self.hub.subscribers(topic):
                info = hq.queue_info(h, queued, staff, self.settings.handoff_avg_handle_seconds)
                self._emit(db, topic, {"type": "queue", "conversation_id": h.conversation_id,
                                       "queue": info.public()})
        self._emit(db, STAFF, {"type": "queue", "size": len(queued)})
