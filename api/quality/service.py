"""Quality inspection of resolved agent episodes: rules + the escalation-risk model, stored as
flags a supervisor accepts or dismisses (with a note)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Handoff, Message, QualityFlag, QualityInspection, StaffUser
from api.quality.model import RiskModel, get_model
from api.quality.rules import RULES, Finding, Line, inspect_lines
from pii import mask
from vocab import DomainError, ErrorKind

REVIEW_DECISIONS = ("accepted", "dismissed")


class QualityInspector:
    """Inspects one episode once (idempotent per handoff) and lists/reviews flags."""

    def __init__(self, *, first_response_seconds: int, reply_seconds: int,
                 risk_threshold: float, model: Callable[[], RiskModel] = get_model) -> None:
        self.first_response_seconds = first_response_seconds
        self.reply_seconds = reply_seconds
        self.risk_threshold = risk_threshold
        self.model = model

    def lines(self, db: Session, handoff: Handoff) -> list[Line]:
        stmt = select(Message).where(Message.conversation_id == handoff.conversation_id,
                                     Message.created_at >= handoff.requested_at)
        if handoff.resolved_at is not None:
            stmt = stmt.where(Message.created_at <= handoff.resolved_at)
        return [Line(m.id, m.sender, m.text or "", m.created_at)
                for m in db.scalars(stmt.order_by(Message.id))]

    def inspect(self, db: Session, handoff: Handoff) -> QualityInspection:
        """Run every rule and the model over a resolved episode (again: the stored result)."""
        done = db.scalars(select(QualityInspection)
                          .where(QualityInspection.handoff_id == handoff.id)).first()
        if done is not None:
            return done
        lines = self.lines(db, handoff)
        findings = inspect_lines(lines, handoff.assigned_at,
                                 first_response_seconds=self.first_response_seconds,
                                 reply_seconds=self.reply_seconds)
        user_lines = [m for m in lines if m.sender == "user" and m.text.strip()]
        risks = self.model().risk([m.text for m in user_lines]) if user_lines else []
        top = max(range(len(risks)), key=lambda i: risks[i]) if risks else None
        if top is not None and risks[top] >= self.risk_threshold:
            findings.append(Finding("escalation_risk", user_lines[top].id, user_lines[top].text,
                                    {"risk": round(risks[top], 3),
                                     "threshold": self.risk_threshold}))
        inspection = QualityInspection(
            conversation_id=handoff.conversation_id, handoff_id=handoff.id,
            agent_id=handoff.agent_id, flags=len(findings),
            risk=round(max(risks), 3) if risks else None)
        db.add(inspection)
        db.flush()
        for f in findings:
            db.add(QualityFlag(inspection_id=inspection.id,
                               conversation_id=handoff.conversation_id,
                               agent_id=handoff.agent_id, message_id=f.message_id, rule=f.rule,
                               severity=f.severity, excerpt=mask(f.excerpt)[:500],
                               details=f.details or None))
        db.flush()
        return inspection

    def inspect_resolved(self, sessions: Callable[[], Session], conversation_id: str) -> None:
        """After an agent resolved: inspect the conversation's latest resolved episode."""
        with sessions() as db:
            handoff = db.scalars(select(Handoff).where(
                Handoff.conversation_id == conversation_id, Handoff.resolved_at.is_not(None))
                .order_by(Handoff.id.desc())).first()
            if handoff is not None:
                self.inspect(db, handoff)
                db.commit()

    @staticmethod
    def review(db: Session, flag_id: int, decision: str, note: str,
               reviewer: StaffUser) -> QualityFlag:
        flag = db.get(QualityFlag, flag_id)
        if flag is None:
            raise DomainError(ErrorKind.NOT_FOUND, "flag_not_found", "没有找到这条质检记录。",
                              "No such quality flag.")
        if decision not in REVIEW_DECISIONS:
            raise DomainError(ErrorKind.INVALID, "invalid_decision", "复核结果只能是采纳或驳回。",
                              f"decision must be one of {list(REVIEW_DECISIONS)}")
        flag.status = decision
        flag.review_note = mask(note.strip())[:1000]
        flag.reviewer_id = reviewer.id
        flag.reviewed_at = datetime.now(timezone.utc)
        db.flush()
        return flag


def _iso(value: datetime | None) -> str | None:
    """UTC with its offset (SQLite gives naive datetimes back), so a browser shows local time."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


def flag_public(flag: QualityFlag, agents: dict[int, StaffUser] | None = None) -> dict[str, Any]:
    agent = (agents or {}).get(flag.agent_id or -1)
    return {"id": flag.id, "conversation_id": flag.conversation_id,
            "inspection_id": flag.inspection_id, "message_id": flag.message_id,
            "rule": flag.rule, "rule_label": RULES[flag.rule][1], "severity": flag.severity,
            "excerpt": flag.excerpt, "details": flag.details or {}, "status": flag.status,
            "review_note": flag.review_note,
            "reviewed_at": _iso(flag.reviewed_at),
            "created_at": _iso(flag.created_at),
            "agent_id": flag.agent_id,
            "agent": ({"username": agent.username, "agent_no": agent.agent_no,
                       "display_name": agent.display_name} if agent else None)}
