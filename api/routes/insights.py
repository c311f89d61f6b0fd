"""Service insights API: the dashboard's summary, daily series and breakdowns, the xlsx export,
and quality inspection (flags of a conversation, the supervisors' review queue, a review).

Read: ops, supervisor, admin (`InsightsStaff`); review: supervisor, admin (`QualityReviewer`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.core.errors import ApiError
from api.deps import InsightsStaff, InspectorDep, QualityReviewer, SessionDep, SettingsDep
from api.insights import export, summary
from api.models import QualityFlag, StaffUser
from api.quality.service import flag_public

router = APIRouter(prefix="/api/v1", tags=["insights"])

Days = Annotated[int | None, Query(ge=1, le=366, description="the last N days (Beijing time)")]
From = Annotated[date | None, Query(alias="from", description="first day, YYYY-MM-DD")]
To = Annotated[date | None, Query(description="last day (inclusive), YYYY-MM-DD")]
Channel = Annotated[Literal["web", "app", "wechat"] | None, Query()]
Tier = Annotated[Literal["vip", "other"] | None, Query(description="vip = 白金卡")]


def _filters(settings: Any, days: int | None, from_: date | None, to: date | None,
             channel: str | None, tier: str | None) -> summary.Filters:
    if from_ and to and from_ > to:
        raise ApiError(422, "invalid_range", "开始日期不能晚于结束日期。", "`from` is after `to`.")
    if from_ and to and (to - from_).days > 366:
        raise ApiError(422, "range_too_long", "日期范围最长一年。",
                       "The range is limited to 366 days.")
    return summary.Filters.from_params(
        days=days, from_=from_, to=to, channel=channel, tier=tier,
        offset_hours=settings.insights_utc_offset_hours,
        helped_within=settings.insights_helped_within_seconds)


@router.get("/insights/summary")
def insights_summary(db: SessionDep, settings: SettingsDep, user: InsightsStaff,
                     days: Days = None, from_: From = None, to: To = None,
                     channel: Channel = None, tier: Tier = None) -> dict[str, Any]:
    """Headline figures: conversations, resolution/clarify/fallback/handoff rates, CSAT, NPS,
    queue wait p50/p90, helped within 5 minutes, abandonment, handle time."""
    return summary.summary(db, _filters(settings, days, from_, to, channel, tier))


@router.get("/insights/series")
def insights_series(db: SessionDep, settings: SettingsDep, user: InsightsStaff,
                    days: Days = None, from_: From = None, to: To = None,
                    channel: Channel = None, tier: Tier = None) -> dict[str, Any]:
    """Daily series: conversations per channel, the rates, NPS with its response count."""
    return summary.series(db, _filters(settings, days, from_, to, channel, tier))


@router.get("/insights/breakdowns")
def insights_breakdowns(db: SessionDep, settings: SettingsDep, user: InsightsStaff,
                        days: Days = None, from_: From = None, to: To = None,
                        channel: Channel = None, tier: Tier = None) -> dict[str, Any]:
    """Handoff reasons, CSAT distribution, per-agent handle time/CSAT/quality, top KB entries."""
    return summary.breakdowns(db, _filters(settings, days, from_, to, channel, tier))


@router.get("/insights/export", responses={200: {"content": {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def insights_export(db: SessionDep, settings: SettingsDep, user: InsightsStaff,
                    days: Days = None, from_: From = None, to: To = None,
                    channel: Channel = None, tier: Tier = None) -> Response:
    """The dashboard's figures as an xlsx workbook."""
    f = _filters(settings, days, from_, to, channel, tier)
    body = export.workbook(summary.summary(db, f), summary.series(db, f),
                           summary.breakdowns(db, f))
    name = f"insights-{f.public()['from']}-{f.public()['to']}.xlsx"
    return Response(content=body, media_type=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ---------------------------------------------------------------------------- quality


def _agents(db: Any, flags: list[QualityFlag]) -> dict[int, StaffUser]:
    ids = {f.agent_id for f in flags if f.agent_id is not None}
    return {u.id: u for u in db.scalars(select(StaffUser).where(StaffUser.id.in_(ids)))} \
        if ids else {}


@router.get("/quality/flags")
def quality_flags(db: SessionDep, user: InsightsStaff,
                  conversation_id: Annotated[str | None, Query(max_length=36)] = None,
                  status: Annotated[Literal["open", "accepted", "dismissed"] | None,
                                    Query()] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """Quality flags, each citing the message and the rule; without a conversation id: the
    review queue (newest first, `status=open` for what is left to review)."""
    stmt = select(QualityFlag)
    if conversation_id:
        stmt = stmt.where(QualityFlag.conversation_id == conversation_id)
    if status:
        stmt = stmt.where(QualityFlag.status == status)
    order = QualityFlag.id if conversation_id else QualityFlag.id.desc()
    flags = list(db.scalars(stmt.order_by(order).limit(limit)))
    agents = _agents(db, flags)
    return {"items": [flag_public(f, agents) for f in flags]}


class ReviewCreate(BaseModel):
    decision: Literal["accepted", "dismissed"]
    note: str = Field(default="", max_length=1000)


@router.post("/quality/flags/{flag_id}/review")
def quality_review(flag_id: int, body: ReviewCreate, db: SessionDep, user: QualityReviewer,
                   inspector: InspectorDep) -> dict[str, Any]:
    """Accept or dismiss a flag with a note (supervisor, admin)."""
    flag = inspector.review(db, flag_id, body.decision, body.note, user)
    db.commit()
    return flag_public(flag, _agents(db, [flag]))
