"""Agent commands: go online or away, accept a waiting conversation (race-safe), write to the
cardholder, transfer to another skill group, resolve (the cardholder gets the survey)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.conversation.rasa_client import RasaClient
from api.handoff import queue as hq
from api.handoff import texts
from api.handoff.cardholder import CardholderSide, language_of
from api.handoff.core import conflict
from api.handoff.profiles import VIP_TIERS
from api.handoff.secretary import learn, offer_active, release_offers
from api.handoff.state import InvalidTransition, StateConflict, apply, current_state
from api.handoff.views import DeskResultView, MessageView, agent_view
from api.models import Conversation, Handoff, StaffUser, Survey
from pii import mask
from vocab import DESK_LEADS, SKILL_GROUPS, DomainError, ErrorKind, Outcome, Sender, State


def _actor(user: StaffUser) -> str:
    return f"agent:{user.username}"


class DeskCommands(CardholderSide):
    """What agents do from the console."""

    def _load_agent(self, db: Session, agent: StaffUser) -> StaffUser:
        fresh = db.get(StaffUser, agent.id)
        assert fresh is not None
        return fresh

    def _owned(self, db: Session, conversation_id: str, agent: StaffUser) -> Handoff:
        """The open episode, which must be assigned to `agent` (supervisors may act on any)."""
        self._require_conversation(db, conversation_id)
        state = current_state(db, conversation_id)
        handoff = self.current(db, conversation_id)
        if state != State.ASSIGNED or handoff is None:
            raise conflict("not_assigned", "该会话当前没有由人工客服接待。",
                           f"Conversation is '{state.value}', not assigned to an agent.",
                           state=state.value)
        if handoff.agent_id != agent.id and agent.role not in DESK_LEADS:
            raise DomainError(ErrorKind.FORBIDDEN, "not_your_conversation",
                              "该会话由其他客服接待。",
                              "This conversation is assigned to another agent.")
        return handoff

    def _result(self, db: Session, conversation_id: str, msg: MessageView) -> DeskResultView:
        return {**self.status(db, conversation_id), "message": msg}

    def set_status(self, agent: StaffUser, status: str) -> StaffUser:
        with self._sessions() as db:
            user = self._load_agent(db, agent)
            user.status = status
            if status != "online":
                release_offers(db, user.id)
            db.flush()
            self._emit_positions(db)
            db.commit()
            return user

    def accept(self, conversation_id: str, agent: StaffUser) -> DeskResultView:
        """Take a waiting conversation; of concurrent accepts exactly one wins (409 for others)."""
        with self._sessions() as db:
            self._require_conversation(db, conversation_id)
            user = self._load_agent(db, agent)
            if user.status != "online":
                raise conflict("agent_not_online", "请先将状态切换为“在线”再接入会话。",
                               "Set your status to online before accepting conversations.")
            state = current_state(db, conversation_id)
            handoff = self.current(db, conversation_id)
            if state != State.QUEUED or handoff is None:
                raise conflict("not_queued", "该会话已被接入或已不在排队中。",
                               f"Conversation is '{state.value}', not waiting in the queue.",
                               state=state.value)
            preferred = handoff.preferred_agent_id == user.id
            if (handoff.group not in (user.groups or []) and user.role not in DESK_LEADS
                    and not preferred):
                raise DomainError(ErrorKind.FORBIDDEN, "wrong_group", "该会话不属于您的技能组。",
                                  f"Conversation is queued for group '{handoff.group}'.")
            if (offer_active(handoff, self.clock()) and not preferred
                    and user.role not in DESK_LEADS):
                raise conflict("offered_to_secretary",
                               "该会话正在优先转给持卡人的专属客服（安心秘书），请稍后再接。",
                               "This conversation is offered to the cardholder's own agent "
                               "first.", offered_until=hq.aware(handoff.offered_until).isoformat()
                               if handoff.offered_until else None)
            holding = db.scalar(
                select(func.count(Handoff.id))
                .join(Conversation, Conversation.id == Handoff.conversation_id)
                .where(Handoff.agent_id == user.id, Handoff.ended_at.is_(None),
                       Conversation.state == State.ASSIGNED.value)) or 0
            if holding >= user.capacity:
                raise conflict("capacity_full", f"您已同时接待 {holding} 个会话，达到上限。",
                               f"Capacity reached ({holding}/{user.capacity}).")
            try:
                apply(db, conversation_id, "accept", actor=_actor(user),
                      handoff_id=handoff.id, expected=State.QUEUED)
            except (StateConflict, InvalidTransition) as exc:
                db.rollback()
                raise conflict("not_queued", "该会话已被其他客服接入。",
                               "Another agent accepted this conversation first.") from exc
            handoff.agent_id = user.id
            handoff.assigned_at = self.clock()
            who = agent_view(user)
            text = texts.text("assigned", language_of(db, conversation_id),
                              agent=who["agent_no"])
            msg = self._store(db, conversation_id, Sender.SYSTEM, text, outcome=Outcome.AGENT,
                              extra={"agent": who, "event": "assigned"})
            self._emit_message(db, conversation_id, msg, to_user=True)
            self._emit_state(db, conversation_id)
            result = self._result(db, conversation_id, msg)
            db.commit()
            return result

    async def agent_message(self, rasa: RasaClient, conversation_id: str, agent: StaffUser,
                            text: str) -> MessageView:
        """An agent writes to the cardholder: stored, pushed live, mirrored into Rasa."""
        with self._sessions() as db:
            self._owned(db, conversation_id, agent)
            who = agent_view(self._load_agent(db, agent))
            msg = self._store(db, conversation_id, Sender.AGENT, text, outcome=Outcome.AGENT,
                              extra={"agent": who})
            self._emit_message(db, conversation_id, msg, to_user=True)
            db.commit()
        await self.mirror_agent(rasa, conversation_id, msg["text"], who)
        return msg

    def resolve(self, conversation_id: str, agent: StaffUser) -> DeskResultView:
        """The agent closes the case; the cardholder gets the survey."""
        with self._sessions() as db:
            handoff = self._owned(db, conversation_id, agent)
            self._apply(db, conversation_id, "resolve", _actor(agent), handoff,
                        expected=State.ASSIGNED)
            handoff.resolved_at = self.clock()
            if handoff.agent_id is not None and handoff.tier in VIP_TIERS:
                learn(db, handoff.user_id, handoff.agent_id, self.clock())
            db.add(Survey(conversation_id=conversation_id, handoff_id=handoff.id,
                          agent_id=handoff.agent_id, created_at=self.clock()))
            owner = db.get(StaffUser, handoff.agent_id) if handoff.agent_id else None
            number = agent_view(owner)["agent_no"] if owner else ""
            text = texts.text("survey_ask", language_of(db, conversation_id), agent=number)
            msg = self._store(
                db, conversation_id, Sender.SYSTEM, text, outcome=Outcome.SURVEY,
                buttons=[{"title": str(n), "payload": f'/survey{{"score":{n}}}'}
                         for n in range(1, 6)],
                extra={"event": "survey"})
            self._emit_message(db, conversation_id, msg, to_user=True)
            self._emit_state(db, conversation_id)
            result = self._result(db, conversation_id, msg)
            db.commit()
            return result

    def transfer(self, conversation_id: str, agent: StaffUser, group: str,
                 note: str = "") -> DeskResultView:
        """Put the conversation back in the queue of another skill group."""
        if group not in SKILL_GROUPS:
            raise DomainError(ErrorKind.INVALID, "unknown_group", "没有这个技能组。",
                              f"group must be one of {[str(g) for g in SKILL_GROUPS]}")
        with self._sessions() as db:
            handoff = self._owned(db, conversation_id, agent)
            self._apply(db, conversation_id, "transfer", _actor(agent), handoff,
                        expected=State.ASSIGNED,
                        details={"from_group": handoff.group, "to_group": group,
                                 "note": mask(note)[:500]})
            handoff.group = group
            handoff.agent_id = None
            handoff.assigned_at = None
            handoff.queued_at = self.clock()
            msg = self._store(db, conversation_id, Sender.SYSTEM,
                              texts.transfer_text(language_of(db, conversation_id), group),
                              outcome=Outcome.HANDOFF, extra={"event": "transfer"})
            self._emit_message(db, conversation_id, msg, to_user=True)
            self._emit_state(db, conversation_id)
            result = self._result(db, conversation_id, msg)
            db.commit()
            return result
