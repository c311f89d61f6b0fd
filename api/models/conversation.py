"""Conversations and their transcript, as the gateway stores them."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from knowledge_base.db import Base
from vocab import State
from vocab.language import Language, as_language


def utcnow() -> datetime:
    """Timezone-aware now; every timestamp is stored in UTC."""
    return datetime.now(timezone.utc)


class Conversation(Base):
    """One cardholder on one channel; its id is also Rasa's sender id."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "user_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    channel: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    # Handoff state machine: bot -> queued -> assigned -> resolved -> bot
    state: Mapped[str] = mapped_column(String(16), default=State.BOT.value)
    # Reply language (issue 19): zh | en, kept per conversation (vocab/language.py).
    language: Mapped[str] = mapped_column(String(8), default="zh", server_default="zh")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow)


def reply_language(db: Session, conversation_id: str) -> Language:
    """The conversation's reply language (zh for one not stored yet): the one read of it for
    every service-side text (handoff, survey, NPS)."""
    conv = db.get(Conversation, conversation_id)
    return as_language(conv.language if conv is not None else None)


class Message(Base):
    """A transcript line. Text is stored with PII masked."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    sender: Mapped[str] = mapped_column(String(16))  # user | bot | agent | system
    type: Mapped[str] = mapped_column(String(16), default="text")  # text | buttons | image | link
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class KBEvent(Base):
    """A KB decision on a user turn: what the bot used, how sure it was, what it did."""

    __tablename__ = "kb_events"
    # The insights dashboard's top entries: a range of days, answered, per entry (covering).
    __table_args__ = (Index("ix_kb_events_at_outcome", "created_at", "outcome", "entry_id",
                            "helpful"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    user_message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    query: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16))
    entry_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    release: Mapped[int | None] = mapped_column(Integer, nullable=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    helpful: Mapped[bool | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StaffUser(Base):
    """A bank employee who signs in to a console: agent, supervisor, ops or admin.

    Agents (and supervisors) also work the handoff queue: `groups` are their skill groups,
    `capacity` how many conversations they may hold at once, `status` online/away/offline.
    """

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # agent | supervisor | ops | admin
    display_name: Mapped[str] = mapped_column(String(64), default="")
    agent_no: Mapped[str | None] = mapped_column(String(16), nullable=True)  # 工号
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    capacity: Mapped[int] = mapped_column(Integer, default=3)
    status: Mapped[str] = mapped_column(String(16), default="offline")  # online | away | offline
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
