"""Tables of the ops console: per-entry drafts (with a revision for optimistic locking), the
audit log of every KB change, and the inbox questions ops already dealt with.

They live next to the release tables of :mod:`knowledge_base.content.store` (same declarative
base, same database), so a publish can create the release and clear the drafts in one transaction.

Drafts
    ``kb_drafts`` has one row per entry that was ever edited in the console. ``data`` is the
    full pending entry (the store's :class:`~knowledge_base.content.store.Entry` as JSON) or
    ``NULL`` when nothing is pending. ``revision`` only ever grows: every save, discard, import or
    rollback that touches the entry bumps it, and a save must name the revision it was based
    on, so two editors never silently overwrite each other (entries never edited have
    revision 0).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from knowledge_base.db import Base


def _now() -> datetime:
    return datetime.now(UTC)


class KBDraft(Base):
    """The pending (unpublished) version of one entry, and its edit revision."""

    __tablename__ = "kb_drafts"

    entry_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # Full pending entry (Entry.model_dump(mode="json")); NULL = no pending change.
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class KBAudit(Base):
    """One change of the KB: who did what to which entry or release, and when."""

    __tablename__ = "kb_audit_log"
    __table_args__ = (Index("ix_kb_audit_entry_at", "entry_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16), default="")
    # create | update | archive | discard | import | add_similar | publish | rollback
    action: Mapped[str] = mapped_column(String(24), index=True)
    entry_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    release: Mapped[int | None] = mapped_column(Integer, nullable=True)
    revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class KBInboxResolved(Base):
    """An unanswered question ops handled (added to an entry, or dismissed)."""

    __tablename__ = "kb_inbox_resolved"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)  # normalize_question(text)
    text: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str] = mapped_column(String(16))  # added | new_entry | dismissed
    entry_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
