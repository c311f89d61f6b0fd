"""Tables of the handoff: episodes, state transitions, leave-message tickets, surveys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.models.conversation import utcnow
from knowledge_base.db import Base
from vocab import SkillGroup


class Handoff(Base):
    """One episode of a conversation with the human desk, from request to its end."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))  # requested | complaint | fraud_dispute | ...
    group: Mapped[str] = mapped_column(String(16), index=True)  # general | vip | disputes
    priority: Mapped[bool] = mapped_column(default=False)
    tier: Mapped[str] = mapped_column(String(16), default="standard")
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                   index=True)  # the insights' date range
    # Latest time it entered the queue (a transfer re-queues); the queue timeout counts from it.
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True,
                                                 index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # resolved | cancelled | timeout | outside_hours
    end_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_user_text: Mapped[str] = mapped_column(Text, default="")  # masked
    last_user_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The Rasa tracker is paused while this episode lasts; True until `resume` reached Rasa.
    rasa_paused: Mapped[bool] = mapped_column(default=False)
    # The cardholder's own agent (安心秘书, issue 19) the episode is offered to first, and until
    # when only that agent (or a supervisor) may accept it; then the skill group takes it.
    preferred_agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"),
                                                           nullable=True)
    offered_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                           nullable=True)


class Transition(Base):
    """One timestamped state change of a conversation (the audit trail of the state machine)."""

    __tablename__ = "conversation_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id"), nullable=True)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(64))  # user | system | agent:<username>
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Ticket(Base):
    """A left message with a callback number: outside working hours or after a queue timeout."""

    __tablename__ = "handoff_tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id"), nullable=True)
    user_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    cause: Mapped[str] = mapped_column(String(16))  # outside_hours | timeout
    reason: Mapped[str] = mapped_column(String(32), default="requested")
    group: Mapped[str] = mapped_column(String(16), default=SkillGroup.GENERAL.value)
    tier: Mapped[str] = mapped_column(String(16), default="standard")
    priority: Mapped[bool] = mapped_column(default=False)
    # collecting (step message -> phone) | open | closed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="collecting", index=True)
    step: Mapped[str] = mapped_column(String(16), default="message")
    message: Mapped[str] = mapped_column(Text, default="")  # masked
    # Needed to call the cardholder back: sealed at rest (api/core/vault.py), opened for agents
    # only, never written to transcripts/logs.
    callback_number: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class Survey(Base):
    """Satisfaction survey after an agent resolved a conversation (score 1-5, optional comment)."""

    __tablename__ = "handoff_surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"), unique=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True)
    # pending (asked) -> comment (score given, comment invited) -> done | skipped
    status: Mapped[str] = mapped_column(String(16), default="pending")
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)  # masked
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Secretary(Base):
    """A cardholder's own agent (安心秘书): set by a supervisor, or learned as the last agent who
    served a VIP cardholder. A supervisor's choice is never overwritten by learning."""

    __tablename__ = "cardholder_secretaries"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # supervisor | learned
    set_by: Mapped[str] = mapped_column(String(64), default="system")  # username or "system"
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow)
