"""Tables of the service insights: conversation sessions, NPS answers, quality inspection.

A *session* is one visit of a cardholder: it starts with their first message after a quiet
gap (`INSIGHTS_SESSION_GAP_MINUTES`, Rasa's session expiry) or after the previous session
ended with the NPS question. The gateway keeps one row per session with the counts the
dashboard aggregates, so the summary is a handful of SQL aggregates over one narrow table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.models.conversation import utcnow
from knowledge_base.db import Base


class ServiceSession(Base):
    """One visit of a cardholder and what happened in it."""

    __tablename__ = "service_sessions"
    # Covering index of the dashboard's aggregates (a range of days, filtered, summed).
    __table_args__ = (Index("ix_service_sessions_started", "started_at", "channel", "tier",
                            "turns", "answered", "clarify", "fallback", "thumbs_down", "handoff",
                            "handoff_reason"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str] = mapped_column(String(16), default="standard")  # standard|gold|platinum
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)  # goodbye|survey
    # Bot turns by outcome (a turn = one user message the bot answered).
    turns: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    clarify: Mapped[int] = mapped_column(Integer, default=0)
    fallback: Mapped[int] = mapped_column(Integer, default=0)
    thumbs_down: Mapped[int] = mapped_column(Integer, default=0)
    handoff: Mapped[bool] = mapped_column(default=False)
    handoff_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id"), nullable=True)
    kb_entries: Mapped[list[str]] = mapped_column(JSON, default=list)  # entries that answered


class NpsResponse(Base):
    """The 0-10 question at the end of a session, its answer and the optional follow-up."""

    __tablename__ = "nps_responses"
    __table_args__ = (Index("ix_nps_responses_asked", "asked_at", "channel", "tier", "score",
                            "csat"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("service_sessions.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str] = mapped_column(String(16), default="standard")
    human: Mapped[bool] = mapped_column(default=False)  # an agent took part in the session
    kb_entries: Mapped[list[str]] = mapped_column(JSON, default=list)
    trigger: Mapped[str] = mapped_column(String(16))  # goodbye | closing | survey
    # asked -> followup (score given, follow-up asked) -> done | ignored
    status: Mapped[str] = mapped_column(String(16), default="asked")
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 0-10
    csat: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1-5, the follow-up
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)  # masked
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class QualityInspection(Base):
    """One automatic inspection (质检) of an agent episode, run when the agent resolves it."""

    __tablename__ = "quality_inspections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"), unique=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True,
                                                 index=True)
    inspected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                   index=True)
    flags: Mapped[int] = mapped_column(Integer, default=0)
    risk: Mapped[float | None] = mapped_column(Float, nullable=True)  # model: max escalation risk


class QualityFlag(Base):
    """One finding of an inspection: the rule, the message it cites, and the review."""

    __tablename__ = "quality_flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("quality_inspections.id"), index=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), nullable=True)
    rule: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8), default="minor")  # minor | major
    excerpt: Mapped[str] = mapped_column(Text, default="")  # masked text of the cited line
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # open -> accepted | dismissed (by a supervisor, with a note)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True)
    review_note: Mapped[str] = mapped_column(Text, default="")
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
