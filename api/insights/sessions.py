"""Conversation sessions: one row per visit, kept up to date by the gateway on every turn."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.models import Conversation, Handoff, KBEvent, ServiceSession
from vocab import Outcome

Clock = Callable[[], datetime]


def _utc(value: datetime) -> datetime:
    """SQLite gives naive datetimes back; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class SessionTracker:
    """Finds or opens the session of a conversation and records what each turn did."""

    def __init__(self, gap_minutes: int, tier_of: Callable[[str], str],
                 clock: Clock | None = None) -> None:
        self.gap = timedelta(minutes=gap_minutes)
        self.tier_of = tier_of
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def latest(self, db: Session, conversation_id: str) -> ServiceSession | None:
        return db.scalars(select(ServiceSession)
                          .where(ServiceSession.conversation_id == conversation_id)
                          .order_by(ServiceSession.id.desc())).first()

    def current(self, db: Session, conv: Conversation) -> ServiceSession:
        """The open session (touched), or a new one after an ended session or a quiet gap."""
        now = self.clock()
        row = self.latest(db, conv.id)
        if row is not None and row.ended_at is None and now - _utc(row.last_at) <= self.gap:
            row.last_at = now
            return row
        row = ServiceSession(conversation_id=conv.id, channel=conv.channel,
                             tier=self.tier_of(conv.user_id), started_at=now, last_at=now,
                             kb_entries=[])
        db.add(row)
        db.flush()
        return row

    @staticmethod
    def record_turn(row: ServiceSession, outcome: str, kb_entry: str | None) -> None:
        """One bot turn: count its outcome; remember the KB entry that answered."""
        row.turns = (row.turns or 0) + 1
        if outcome == Outcome.ANSWERED:
            row.answered = (row.answered or 0) + 1
            if kb_entry and kb_entry not in (row.kb_entries or []):
                row.kb_entries = [*(row.kb_entries or []), kb_entry]
        elif outcome == Outcome.CLARIFY:
            row.clarify = (row.clarify or 0) + 1
        elif outcome == Outcome.FALLBACK:
            row.fallback = (row.fallback or 0) + 1

    @staticmethod
    def record_handoff(db: Session, row: ServiceSession, reason: str | None) -> None:
        """The bot asked for a human in this session."""
        row.handoff = True
        row.handoff_reason = (reason or "requested")[:32]
        handoff = db.scalars(select(Handoff).where(Handoff.conversation_id == row.conversation_id)
                             .order_by(Handoff.id.desc())).first()
        if handoff is not None:
            row.handoff_id = handoff.id

    def end(self, row: ServiceSession, reason: str) -> None:
        row.ended_at = self.clock()
        row.end_reason = reason

    @staticmethod
    def human_involved(db: Session, row: ServiceSession) -> bool:
        if row.handoff_id is None:
            return False
        handoff = db.get(Handoff, row.handoff_id)
        return handoff is not None and handoff.assigned_at is not None


def refresh_thumbs_down(db: Session, event: KBEvent) -> None:
    """Recount the not-helpful answers of the session a KB answer belongs to."""
    row = db.scalars(select(ServiceSession)
                     .where(ServiceSession.conversation_id == event.conversation_id,
                            ServiceSession.started_at <= event.created_at)
                     .order_by(ServiceSession.id.desc())).first()
    if row is None:
        return
    stmt = select(func.count()).select_from(KBEvent).where(
        KBEvent.conversation_id == row.conversation_id, KBEvent.helpful.is_(False),
        KBEvent.created_at >= row.started_at)
    if row.ended_at is not None:
        stmt = stmt.where(KBEvent.created_at <= row.ended_at)
    row.thumbs_down = int(db.scalar(stmt) or 0)
