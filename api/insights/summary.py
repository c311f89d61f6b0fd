"""The dashboard's figures: SQL aggregates (SQLAlchemy Core) that run on SQLite and PostgreSQL.

Definitions (also in README "Service insights"):

- `conversations`: sessions that started in the range (`service_sessions`).
- `resolution_rate`: sessions the bot answered at least once with no handoff and no
  thumbs-down, over sessions. `handoff_rate`: sessions that asked for a human, over sessions.
- `clarify_rate`, `fallback_rate`: bot turns that asked "您是不是想问" / did not understand,
  over bot turns.
- queue figures are over handoff episodes requested in the range: wait = assigned - requested
  (nearest-rank p50/p90 of the assigned ones); `helped_within_5min_rate` = assigned within
  `INSIGHTS_HELPED_WITHIN_SECONDS`, over all episodes; `abandonment_rate` = cancelled by the
  cardholder before an agent took it, over all episodes.
- `csat`: mean of every 1-5 score: the agent survey and the NPS follow-up.
- `nps`: % promoters (9-10) - % detractors (0-6) of the 0-10 answers, -100..100.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import and_, case, func, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement

from api.insights.sql import day_of, seconds_between
from api.models import (
    Conversation,
    Handoff,
    KBEvent,
    NpsResponse,
    QualityFlag,
    QualityInspection,
    ServiceSession,
    StaffUser,
    Survey,
)
from vocab import Outcome

VIP_TIERS = ("platinum",)
TIERS = ("vip", "other")
CHANNELS = ("web", "app", "wechat")


@dataclass(frozen=True)
class Filters:
    """A half-open UTC range [start, end), an optional channel and tier group (vip/other)."""

    start: datetime
    end: datetime
    channel: str | None = None
    tier: str | None = None
    offset_hours: int = 8
    helped_within: int = 300

    @classmethod
    def from_params(cls, *, days: int | None, from_: date | None, to: date | None,
                    channel: str | None, tier: str | None, offset_hours: int,
                    helped_within: int, now: datetime | None = None) -> Filters:
        """`from`/`to` are local dates (inclusive); `days` = the last N local days incl. today."""
        zone = timezone(timedelta(hours=offset_hours))
        today = (now or datetime.now(timezone.utc)).astimezone(zone).date()
        last = to or today
        first = from_ or (last - timedelta(days=(days or 30) - 1))
        start = datetime.combine(first, time(0), zone).astimezone(timezone.utc)
        end = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(timezone.utc)
        return cls(start, end, channel or None, tier or None, offset_hours, helped_within)

    def public(self) -> dict[str, Any]:
        zone = timezone(timedelta(hours=self.offset_hours))
        return {"from": self.start.astimezone(zone).date().isoformat(),
                "to": (self.end.astimezone(zone) - timedelta(days=1)).date().isoformat(),
                "channel": self.channel, "tier": self.tier}


def _where(stmt: Any, f: Filters, at: Any, channel: Any, tier: Any) -> Any:
    stmt = stmt.where(at >= f.start, at < f.end)
    if f.channel:
        stmt = stmt.where(channel == f.channel)
    if f.tier == "vip":
        stmt = stmt.where(tier.in_(VIP_TIERS))
    elif f.tier == "other":
        stmt = stmt.where(tier.not_in(VIP_TIERS))
    return stmt


def _ratio(part: float | int | None, whole: float | int | None, digits: int = 4) -> float | None:
    return round(float(part or 0) / float(whole), digits) if whole else None


def _sessions(f: Filters, *cols: Any) -> Any:
    s = ServiceSession
    return _where(select(*cols), f, s.started_at, s.channel, s.tier)


def _resolved() -> ColumnElement[int]:
    s = ServiceSession
    return case((and_(s.answered > 0, s.handoff.is_(False), s.thumbs_down == 0), 1), else_=0)


def _handoffs(f: Filters, *cols: Any) -> Any:
    h = Handoff
    return _where(select(*cols), f, h.requested_at, h.channel, h.tier)


def _wait() -> ColumnElement[float]:
    return seconds_between(Handoff.assigned_at, Handoff.requested_at)


def percentile(db: Session, f: Filters, q: float) -> float | None:
    """Nearest-rank percentile of the queue wait of assigned episodes (same on every DB)."""
    base = _handoffs(f, _wait().label("w")).where(Handoff.assigned_at.is_not(None))
    n = db.scalar(select(func.count()).select_from(base.subquery())) or 0
    if not n:
        return None
    k = max(0, math.ceil(q * n) - 1)
    value = db.scalar(base.order_by(_wait()).limit(1).offset(k))
    return round(float(value), 1) if value is not None else None


def _csat_scores(f: Filters) -> Any:
    """Every 1-5 score in range: agent surveys (filtered by their episode) and NPS follow-ups."""
    h, sv, n = Handoff, Survey, NpsResponse
    agent = _where(select(sv.score.label("score"))
                   .join(h, h.id == sv.handoff_id).where(sv.score.is_not(None)),
                   f, sv.answered_at, h.channel, h.tier)
    bot = _where(select(n.csat.label("score")).where(n.csat.is_not(None)),
                 f, n.asked_at, n.channel, n.tier)
    return union_all(agent, bot).subquery()


def _nps_value(promoters: int, detractors: int, responses: int) -> float | None:
    if not responses:
        return None
    return round(100.0 * (promoters - detractors) / responses, 1)


def _nps_cols() -> tuple[Any, ...]:
    n = NpsResponse
    return (func.count(n.score),
            func.coalesce(func.sum(case((n.score >= 9, 1), else_=0)), 0),
            func.coalesce(func.sum(case((and_(n.score.is_not(None), n.score <= 6), 1),
                                        else_=0)), 0))


def summary(db: Session, f: Filters) -> dict[str, Any]:
    """The headline figures of the dashboard (GET /api/v1/insights/summary)."""
    s = ServiceSession
    conversations, resolved, turns, clarify, fallback, handoff = db.execute(_sessions(
        f, func.count(), func.coalesce(func.sum(_resolved()), 0),
        func.coalesce(func.sum(s.turns), 0), func.coalesce(func.sum(s.clarify), 0),
        func.coalesce(func.sum(s.fallback), 0),
        func.coalesce(func.sum(case((s.handoff.is_(True), 1), else_=0)), 0))).one()
    h = Handoff
    within = and_(h.assigned_at.is_not(None), _wait() <= f.helped_within)
    episodes, assigned, helped, abandoned, handle = db.execute(_handoffs(
        f, func.count(), func.count(h.assigned_at),
        func.coalesce(func.sum(case((within, 1), else_=0)), 0),
        func.coalesce(func.sum(case((and_(h.end_reason == "cancelled", h.assigned_at.is_(None)),
                                      1), else_=0)), 0),
        func.avg(case((h.resolved_at.is_not(None),
                       seconds_between(h.resolved_at, h.assigned_at)), else_=None)))).one()
    scores = _csat_scores(f)
    csat_n, csat_avg = db.execute(select(func.count(scores.c.score),
                                         func.avg(scores.c.score))).one()
    n = NpsResponse
    nps_n, promoters, detractors = db.execute(_where(select(*_nps_cols()), f, n.asked_at,
                                                     n.channel, n.tier)).one()
    return {
        **f.public(),
        "conversations": int(conversations),
        "bot_turns": int(turns),
        "resolution_rate": _ratio(resolved, conversations),
        "clarify_rate": _ratio(clarify, turns),
        "fallback_rate": _ratio(fallback, turns),
        "handoff_rate": _ratio(handoff, conversations),
        "handoffs": int(episodes),
        "queue_wait_p50_seconds": percentile(db, f, 0.5),
        "queue_wait_p90_seconds": percentile(db, f, 0.9),
        "helped_within_5min_rate": _ratio(helped, episodes),
        "abandonment_rate": _ratio(abandoned, episodes),
        "agent_handle_seconds": round(float(handle), 1) if handle is not None else None,
        "csat": round(float(csat_avg), 2) if csat_avg is not None else None,
        "csat_responses": int(csat_n),
        "nps": _nps_value(int(promoters), int(detractors), int(nps_n)),
        "nps_responses": int(nps_n),
        "nps_promoters": int(promoters),
        "nps_detractors": int(detractors),
        "assigned": int(assigned),
    }


def series(db: Session, f: Filters) -> dict[str, Any]:
    """Daily series of the charts: conversations by channel, the rates, NPS with its count."""
    s = ServiceSession
    day = day_of(s.started_at, f.offset_hours).label("day")
    per_channel = db.execute(_sessions(f, day, s.channel, func.count())
                             .group_by(day, s.channel).order_by(day, s.channel)).all()
    rates = db.execute(_sessions(
        f, day, func.count(), func.coalesce(func.sum(_resolved()), 0),
        func.coalesce(func.sum(case((s.handoff.is_(True), 1), else_=0)), 0),
        func.coalesce(func.sum(s.turns), 0), func.coalesce(func.sum(s.clarify), 0),
        func.coalesce(func.sum(s.fallback), 0)).group_by(day).order_by(day)).all()
    n = NpsResponse
    nday = day_of(n.asked_at, f.offset_hours).label("day")
    nps_rows = db.execute(_where(select(nday, *_nps_cols()), f, n.asked_at, n.channel, n.tier)
                          .group_by(nday).order_by(nday)).all()
    return {
        **f.public(),
        "conversations": [{"day": d, "channel": c, "conversations": int(k)}
                          for d, c, k in per_channel],
        "rates": [{"day": d, "conversations": int(k), "resolution_rate": _ratio(r, k),
                   "handoff_rate": _ratio(hh, k), "clarify_rate": _ratio(cl, t),
                   "fallback_rate": _ratio(fb, t)}
                  for d, k, r, hh, t, cl, fb in rates],
        "nps": [{"day": d, "nps": _nps_value(int(p), int(dt), int(k)), "responses": int(k)}
                for d, k, p, dt in nps_rows if k],
    }


def breakdowns(db: Session, f: Filters, top: int = 10) -> dict[str, Any]:
    """Handoff reasons, CSAT distribution, agents, top KB entries with thumbs-down."""
    s = ServiceSession
    reasons = db.execute(_sessions(f, s.handoff_reason, func.count())
                         .where(s.handoff.is_(True)).group_by(s.handoff_reason)
                         .order_by(func.count().desc(), s.handoff_reason)).all()
    scores = _csat_scores(f)
    dist: dict[int, int] = dict(db.execute(  # type: ignore[arg-type]
        select(scores.c.score, func.count()).group_by(scores.c.score)).all())
    return {
        **f.public(),
        "handoff_reasons": [{"reason": r or "requested", "count": int(k)} for r, k in reasons],
        "csat_distribution": [{"score": k, "count": int(dist.get(k, 0))} for k in range(1, 6)],
        "agents": agents(db, f),
        "top_entries": top_entries(db, f, top),
    }


def agents(db: Session, f: Filters) -> list[dict[str, Any]]:
    """Per agent: episodes resolved, mean handle time, CSAT, quality score."""
    h, sv = Handoff, Survey
    handled = db.execute(_handoffs(
        f, h.agent_id, func.count(h.resolved_at),
        func.avg(case((h.resolved_at.is_not(None), seconds_between(h.resolved_at, h.assigned_at)),
                      else_=None)))
        .where(h.agent_id.is_not(None)).group_by(h.agent_id)).all()
    csat = {a: (int(k), avg) for a, k, avg in db.execute(_where(
        select(sv.agent_id, func.count(sv.score), func.avg(sv.score))
        .join(h, h.id == sv.handoff_id).where(sv.score.is_not(None)),
        f, sv.answered_at, h.channel, h.tier).group_by(sv.agent_id)).all()}
    quality = quality_scores(db, f)
    ids = {a for a, _, _ in handled} | set(csat) | set(quality)
    names = {u.id: u for u in db.scalars(select(StaffUser).where(StaffUser.id.in_(ids)))} \
        if ids else {}
    out = []
    for agent_id in sorted(i for i in ids if i is not None):
        user = names.get(agent_id)
        resolved, handle = next(((k, t) for a, k, t in handled if a == agent_id), (0, None))
        n_csat, avg = csat.get(agent_id, (0, None))
        q = quality.get(agent_id, {})
        out.append({"agent_id": agent_id, "username": user.username if user else "",
                    "agent_no": user.agent_no if user else None,
                    "display_name": user.display_name if user else "",
                    "resolved": int(resolved),
                    "handle_seconds": round(float(handle), 1) if handle is not None else None,
                    "csat": round(float(avg), 2) if avg is not None else None,
                    "csat_responses": n_csat, **q})
    return out


def quality_scores(db: Session, f: Filters) -> dict[int, dict[str, Any]]:
    """Quality score per agent = 100 × share of inspected episodes with no open or accepted
    flag (dismissed flags do not count); plus the counts."""
    qi, qf, h = QualityInspection, QualityFlag, Handoff
    flagged = select(qf.inspection_id).where(qf.status != "dismissed").distinct().subquery()
    rows = db.execute(_where(
        select(qi.agent_id, func.count(qi.id),
               func.count(flagged.c.inspection_id))
        .join(h, h.id == qi.handoff_id)
        .outerjoin(flagged, flagged.c.inspection_id == qi.id),
        f, qi.inspected_at, h.channel, h.tier).group_by(qi.agent_id)).all()
    open_flags: dict[int, int] = dict(db.execute(_where(
        select(qf.agent_id, func.count(qf.id)).join(qi, qi.id == qf.inspection_id)
        .join(h, h.id == qi.handoff_id).where(qf.status == "open"),
        f, qi.inspected_at, h.channel, h.tier).group_by(qf.agent_id)).all())
    return {a: {"inspected": int(n), "flagged": int(k),
                "quality_score": round(100.0 * (n - k) / n, 1) if n else None,
                "open_flags": int(open_flags.get(a, 0))}
            for a, n, k in rows if a is not None}


def top_entries(db: Session, f: Filters, top: int) -> list[dict[str, Any]]:
    """KB entries that answered most often, with their thumbs-down count (channel filter via the
    conversation; KB answers carry no tier, so the tier filter does not apply here)."""
    e, c = KBEvent, Conversation
    stmt = (select(e.entry_id, func.count(), func.coalesce(func.sum(case(
                (e.helpful.is_(False), 1), else_=0)), 0))
            .where(e.created_at >= f.start, e.created_at < f.end, e.entry_id.is_not(None),
                   e.outcome == Outcome.ANSWERED.value))
    if f.channel:
        stmt = stmt.join(c, c.id == e.conversation_id).where(c.channel == f.channel)
    rows = db.execute(stmt.group_by(e.entry_id)
                      .order_by(func.count().desc(), e.entry_id).limit(top)).all()
    return [{"entry_id": entry, "answers": int(k), "thumbs_down": int(td),
             "thumbs_down_rate": _ratio(td, k)} for entry, k, td in rows]


__all__ = ["CHANNELS", "TIERS", "Filters", "breakdowns", "series", "summary"]
