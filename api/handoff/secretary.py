"""The VIP's own secretary (安心秘书, issue 19): one agent who knows the cardholder.

A cardholder's secretary is set by a supervisor, or learned as the last agent who served a VIP
cardholder (a supervisor's choice is never overwritten by learning). When a VIP cardholder asks
for a person and the secretary is online with capacity, the episode is *offered* to that agent
first: for `HANDOFF_SECRETARY_OFFER_SECONDS` only the secretary (or a supervisor) may accept
it; the other agents of the group see it marked and can take it after that (or at once when the
secretary goes away). Otherwise it queues in the VIP group as usual, with the wait shown.
(cskefu calls the same routing "lastagent".)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.handoff.profiles import VIP_TIERS
from api.handoff.queue import aware
from api.models import Conversation, Handoff, Secretary, StaffUser
from vocab import DESK_ROLES, State

SUPERVISOR = "supervisor"
LEARNED = "learned"


def holding(db: Session, agent_id: int) -> int:
    """Conversations the agent holds right now."""
    return db.scalar(
        select(func.count(Handoff.id))
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .where(Handoff.agent_id == agent_id, Handoff.ended_at.is_(None),
               Conversation.state == State.ASSIGNED.value)) or 0


def can_take(db: Session, agent: StaffUser | None) -> bool:
    """Online desk staff with a free seat."""
    return (agent is not None and agent.active and agent.role in DESK_ROLES
            and agent.status == "online" and holding(db, agent.id) < agent.capacity)


def secretary_of(db: Session, user_id: str) -> Secretary | None:
    return db.get(Secretary, user_id)


def offer_active(h: Handoff, now: datetime) -> bool:
    """True while the episode is reserved for its preferred agent."""
    return (h.preferred_agent_id is not None and h.offered_until is not None
            and aware(h.offered_until) > now)


def learn(db: Session, user_id: str, agent_id: int, now: datetime) -> None:
    """The agent who just served a VIP cardholder becomes their secretary, unless a supervisor
    chose one."""
    row = db.get(Secretary, user_id)
    if row is None:
        db.add(Secretary(user_id=user_id, agent_id=agent_id, source=LEARNED, set_by="system",
                         updated_at=now))
    elif row.source != SUPERVISOR and row.agent_id != agent_id:
        row.agent_id, row.source, row.set_by, row.updated_at = agent_id, LEARNED, "system", now


def offer(db: Session, handoff: Handoff, now: datetime, seconds: int) -> StaffUser | None:
    """Offer a VIP episode to the cardholder's secretary when that agent can take it now.

    Returns the agent it was offered to (None: no secretary, or not online with capacity)."""
    if handoff.tier not in VIP_TIERS or seconds <= 0:
        return None
    row = secretary_of(db, handoff.user_id)
    agent = db.get(StaffUser, row.agent_id) if row else None
    if not can_take(db, agent):
        return None
    assert agent is not None
    handoff.preferred_agent_id = agent.id
    handoff.offered_until = now + timedelta(seconds=seconds)
    return agent


def release_offers(db: Session, agent_id: int) -> None:
    """The agent went away: their pending offers go to the group at once."""
    for h in db.scalars(select(Handoff).where(Handoff.preferred_agent_id == agent_id,
                                              Handoff.ended_at.is_(None),
                                              Handoff.offered_until.is_not(None))):
        h.offered_until = None
