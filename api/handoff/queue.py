"""Queue order, positions and wait estimates.

Order inside the desk: priority requests (fraud / disputes) first, then higher card tier
(白金 > 金卡 > 普卡), then who has waited longest. A position is counted inside the skill group,
since only that group's agents can take the conversation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from typing_extensions import TypedDict  # pydantic validates it (needs it before 3.12)

from api.handoff.profiles import TIER_RANK
from api.models import Handoff, StaffUser
from vocab import DESK_LEADS, DESK_ROLES, SkillGroup

GROUP_LABELS: dict[str, str] = {SkillGroup.GENERAL: "综合服务组", SkillGroup.VIP: "贵宾专席",
                                SkillGroup.DISPUTES: "争议与盗刷专席"}


def aware(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def sort_key(h: Handoff) -> tuple[bool, int, datetime, int]:
    """Smaller comes first."""
    return (not h.priority, -TIER_RANK.get(h.tier, 0), aware(h.requested_at), h.id)


def ordered(handoffs: Iterable[Handoff]) -> list[Handoff]:
    return sorted(handoffs, key=sort_key)


class QueueView(TypedDict):
    """Queue position of a waiting conversation, as the widget and the consoles show it."""

    position: int
    estimated_wait_seconds: int
    group: str
    group_label: str
    agents_online: int


@dataclass(frozen=True)
class QueueInfo:
    """Where one waiting conversation stands."""

    position: int
    estimated_wait_seconds: int
    group: str
    agents_online: int

    def public(self) -> QueueView:
        return {"position": self.position, "estimated_wait_seconds": self.estimated_wait_seconds,
                "group": self.group, "group_label": GROUP_LABELS.get(self.group, self.group),
                "agents_online": self.agents_online}


def agents_online(staff: Sequence[StaffUser], group: str) -> int:
    """Online desk staff with the skill group (supervisors and admins cover every group)."""
    return sum(1 for u in staff if u.status == "online" and u.active
               and (group in (u.groups or []) or u.role in DESK_LEADS)
               and u.role in DESK_ROLES)


def queue_info(target: Handoff, queued: Sequence[Handoff], staff: Sequence[StaffUser],
               avg_handle_seconds: int) -> QueueInfo:
    """Position of `target` among the queued conversations of its group, and a wait estimate.

    Estimate: each online agent of the group serves one conversation per average handle time,
    so position p waits about ceil(p / agents) handle times (at least one agent is assumed).
    """
    same_group = ordered(h for h in queued if h.group == target.group)
    position = next((i for i, h in enumerate(same_group, 1) if h.id == target.id),
                    len(same_group) + 1)
    online = agents_online(staff, target.group)
    estimate = math.ceil(position / max(1, online)) * avg_handle_seconds
    return QueueInfo(position, estimate, target.group, online)
