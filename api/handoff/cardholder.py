"""The cardholder's side of the handoff: entering the queue, messages while the desk owns
the conversation, cancelling, and the satisfaction survey after an agent resolved."""

from __future__ import annotations

import logging
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.conversation.rasa_client import RasaClient
from api.handoff import texts
from api.handoff.core import conflict
from api.handoff.hub import STAFF
from api.handoff.queue import QueueView
from api.handoff.secretary import offer
from api.handoff.state import current_state
from api.handoff.tickets import CANCEL_TICKET_PAYLOAD, Tickets
from api.handoff.views import HandoffReply, message_view
from api.models import Handoff, Message, StaffUser, Survey
from api.models.conversation import reply_language
from pii import mask
from vocab import SKILL_GROUPS, Outcome, Sender, SkillGroup, State

logger = logging.getLogger(__name__)

CANCEL_QUEUE_PAYLOAD = "/cancel_queue"
SURVEY_SKIP_PAYLOAD = "/survey_skip"
CANCEL_QUEUE_WORDS = frozenset({"取消排队", "取消", "不排了", "不等了", "退出排队", "取消转人工",
                                "cancel", "stop waiting", "Stop waiting", "Cancel",
                                CANCEL_QUEUE_PAYLOAD})
SURVEY_PAYLOAD = re.compile(r'^/survey\{\s*"score"\s*:\s*([1-5])\s*\}$')
SURVEY_DIGIT = re.compile(r"^\s*([1-5])\s*分?\s*$")
# What the gateway answers when the desk already has the conversation.
STATE_OUTCOMES = {State.QUEUED: Outcome.HANDOFF, State.ASSIGNED: Outcome.AGENT,
                  State.TICKET: Outcome.TICKET, State.RESOLVED: Outcome.SURVEY}


language_of = reply_language  # where the desk and the secretary read it


def queue_text(language: str, group: str, info: QueueView, secretary: StaffUser | None,
               offer_seconds: int) -> str:
    """What the cardholder reads on entering the queue (position and wait, or their own
    agent being called first)."""
    minutes = max(1, round(info["estimated_wait_seconds"] / 60))
    offer_minutes = max(1, round(offer_seconds / 60))
    if secretary is not None:
        return texts.text("queue_secretary", language, agent=secretary.agent_no or secretary.id,
                          offer_minutes=offer_minutes, position=info["position"],
                          minutes=minutes)
    lead = texts.text("queue_vip_lead" if group == SkillGroup.VIP else "queue_lead", language)
    return texts.text("queue_position", language, lead=lead, position=info["position"],
                      minutes=minutes)


def is_handoff_payload(text: str) -> bool:
    """Button payloads of the handoff flow, which must never reach Rasa."""
    text = text.strip()
    return (text in (CANCEL_QUEUE_PAYLOAD, SURVEY_SKIP_PAYLOAD, CANCEL_TICKET_PAYLOAD)
            or SURVEY_PAYLOAD.match(text) is not None)


class CardholderSide(Tickets):
    """What the gateway does on the human path."""

    is_handoff_payload = staticmethod(is_handoff_payload)

    async def request(self, rasa: RasaClient, conversation_id: str, request: dict[str, object],
                      *, user_id: str, channel: str) -> HandoffReply:
        """Rasa asked for a human: queue the conversation (or take a message after hours)."""
        reason = str(request.get("reason") or "requested")
        group = str(request.get("group") or SkillGroup.GENERAL)
        if group not in SKILL_GROUPS:
            group = SkillGroup.GENERAL
        priority = bool(request.get("priority")) or reason in self.priority_reasons
        profile = self.profiles.get(user_id)
        if group == SkillGroup.GENERAL and profile.vip:
            group = SkillGroup.VIP
        now = self.clock()
        with self._sessions() as db:
            state = current_state(db, conversation_id)
            if state != State.BOT:  # already with the desk: just say where they are
                status = self.status(db, conversation_id)
                return HandoffReply(STATE_OUTCOMES.get(State(status["state"]), Outcome.HANDOFF),
                                    [], dict(status))
            handoff = Handoff(conversation_id=conversation_id, user_id=user_id, channel=channel,
                              reason=reason, group=str(group), priority=priority,
                              tier=profile.tier, requested_at=now, queued_at=now)
            db.add(handoff)
            db.flush()
            if not self.hours.is_open(now):
                self._apply(db, conversation_id, "leave_message", "system", handoff,
                            expected=State.BOT, details={"cause": "outside_hours"})
                msg = self._open_ticket(db, handoff, "outside_hours")
                reply = HandoffReply(Outcome.TICKET, [msg], {
                    "state": State.TICKET.value, "ticket": {"cause": "outside_hours"},
                    "working_hours": self.hours.describe()})
            else:
                self._apply(db, conversation_id, "request", "system", handoff,
                            expected=State.BOT, details={"reason": reason, "group": group})
                secretary = offer(db, handoff, now, self.settings.handoff_secretary_offer_seconds)
                info = self.queue_info(db, handoff)
                text = queue_text(language_of(db, conversation_id), group, info,
                                  secretary, self.settings.handoff_secretary_offer_seconds)
                cancel = texts.text("btn_stop_waiting", language_of(db, conversation_id))
                msg = self._store(db, conversation_id, Sender.SYSTEM, text,
                                  outcome=Outcome.HANDOFF,
                                  buttons=[{"title": cancel, "payload": CANCEL_QUEUE_PAYLOAD}])
                details: dict[str, object] = {"reason": reason, "group": str(group),
                                              "priority": priority, "tier": profile.tier}
                if secretary is not None:
                    details["preferred_agent"] = secretary.username
                reply = HandoffReply(Outcome.HANDOFF, [msg], {
                    "state": State.QUEUED.value, "queue": info, "handoff": details})
            self._emit_message(db, conversation_id, msg, to_user=False)
            self._emit_state(db, conversation_id)
            db.commit()
            handoff_id = handoff.id
        await self._pause(rasa, conversation_id, handoff_id)
        return reply

    async def on_user_message(self, rasa: RasaClient, conversation_id: str,
                              text: str) -> HandoffReply | None:
        """A cardholder message while the desk owns the conversation.

        Returns None when the flow hands the message back to the bot (a question typed instead
        of answering the survey); the gateway then sends it to Rasa.
        """
        text = text.strip()
        with self._sessions() as db:
            state = current_state(db, conversation_id)
            if state == State.BOT:
                return (self._stale_button(db, conversation_id, text)
                        if is_handoff_payload(text) else None)
            handoff = self.current(db, conversation_id)
            if handoff is None:
                logger.error("conversation %s in state %s has no open handoff",
                             conversation_id, state)
                return None
            if state == State.QUEUED:
                if text in CANCEL_QUEUE_WORDS:
                    db.rollback()
                    return await self.cancel(rasa, conversation_id, actor="user")
                if self._timed_out(handoff):
                    msg = self._timeout(db, handoff)
                    self._emit_state(db, conversation_id)
                    db.commit()
                    return HandoffReply(Outcome.TICKET, [msg], {"state": State.TICKET.value,
                                                                "ticket": {"cause": "timeout"}})
                return await self._to_desk(rasa, db, handoff, text, Outcome.HANDOFF)
            if state == State.ASSIGNED:
                return await self._to_desk(rasa, db, handoff, text, Outcome.AGENT)
            if state == State.RESOLVED:
                return await self._survey_turn(rasa, db, handoff, text)
            if state == State.TICKET:
                return await self._ticket_turn(rasa, db, handoff, text)
        return None

    def _stale_button(self, db: Session, conversation_id: str, text: str) -> HandoffReply:
        """A handoff button clicked after its flow ended (the bot owns the conversation)."""
        lang = language_of(db, conversation_id)
        if text == CANCEL_QUEUE_PAYLOAD:
            reply, outcome = texts.text("stale_queue", lang), Outcome.CANCELLED
        elif text == CANCEL_TICKET_PAYLOAD:
            reply, outcome = texts.text("stale_ticket", lang), Outcome.TICKET
        else:
            reply, outcome = texts.text("stale_survey", lang), Outcome.SURVEY
        msg = self._store(db, conversation_id, Sender.SYSTEM, reply, outcome=outcome)
        db.commit()
        return HandoffReply(outcome, [msg], {"state": State.BOT.value})

    async def _to_desk(self, rasa: RasaClient, db: Session, handoff: Handoff, text: str,
                       outcome: str) -> HandoffReply:
        conversation_id = handoff.conversation_id
        handoff.last_user_text = mask(text)[:500]
        handoff.last_user_at = self.clock()
        last = db.scalars(select(Message).where(Message.conversation_id == conversation_id,
                                                Message.sender == Sender.USER.value)
                          .order_by(Message.id.desc())).first()
        if last is not None:
            self._emit_message(db, conversation_id, message_view(last), to_user=False)
        details = dict(self.status(db, conversation_id))
        if outcome == Outcome.HANDOFF:
            self._emit(db, STAFF, {"type": "queue"})
        db.commit()
        await self.mirror_user(rasa, conversation_id, text)
        return HandoffReply(outcome, [], details)

    async def cancel(self, rasa: RasaClient, conversation_id: str,
                     actor: str = "user") -> HandoffReply:
        """The cardholder stops waiting: back to the bot."""
        with self._sessions() as db:
            self._require_conversation(db, conversation_id)
            if current_state(db, conversation_id) != State.QUEUED:
                raise conflict("not_queued", "您当前没有在排队。",
                               "The conversation is not waiting in the queue.")
            handoff = self.current(db, conversation_id)
            self._apply(db, conversation_id, "cancel", actor, handoff, expected=State.QUEUED)
            if handoff is not None:
                handoff.ended_at = self.clock()
                handoff.end_reason = "cancelled"
            msg = self._store(db, conversation_id, Sender.SYSTEM,
                              texts.text("queue_cancelled", language_of(db, conversation_id)),
                              outcome=Outcome.CANCELLED)
            self._emit_message(db, conversation_id, msg, to_user=False)
            self._emit_state(db, conversation_id)
            db.commit()
        await self.ensure_resumed(rasa, conversation_id)
        return HandoffReply(Outcome.CANCELLED, [msg], {"state": State.BOT.value})

    # ---- survey

    async def _survey_turn(self, rasa: RasaClient, db: Session, handoff: Handoff,
                           text: str) -> HandoffReply | None:
        survey = db.scalars(select(Survey).where(Survey.handoff_id == handoff.id)).first()
        if survey is None:
            survey = Survey(conversation_id=handoff.conversation_id, handoff_id=handoff.id,
                            agent_id=handoff.agent_id)
            db.add(survey)
        if survey.status == "pending":
            match = SURVEY_PAYLOAD.match(text) or SURVEY_DIGIT.match(text)
            if match is None:  # a new question instead of a score: the bot takes it
                survey.status = "skipped"
                survey.answered_at = self.clock()
                self._finish(db, handoff, "survey_done", "user", "resolved")
                self._emit_state(db, handoff.conversation_id)
                db.commit()
                await self.ensure_resumed(rasa, handoff.conversation_id)
                return None
            survey.score = int(match.group(1))
            survey.status = "comment"
            survey.answered_at = self.clock()
            lang = language_of(db, handoff.conversation_id)
            msg = self._store(db, handoff.conversation_id, Sender.SYSTEM,
                              texts.text("survey_score_thanks", lang, score=survey.score),
                              outcome=Outcome.SURVEY,
                              buttons=[{"title": texts.text("btn_no_thanks", lang),
                                        "payload": SURVEY_SKIP_PAYLOAD}])
            self._emit_message(db, handoff.conversation_id, msg, to_user=False)
            db.commit()
            return HandoffReply(Outcome.SURVEY, [msg], {"state": State.RESOLVED.value,
                                                        "survey": {"score": survey.score,
                                                                   "status": survey.status}})
        if text != SURVEY_SKIP_PAYLOAD:
            survey.comment = mask(text)[:1000]
        survey.status = "done"
        return await self._close_survey(rasa, db, handoff, survey)

    async def _close_survey(self, rasa: RasaClient, db: Session, handoff: Handoff,
                            survey: Survey) -> HandoffReply:
        self._finish(db, handoff, "survey_done", "user", "resolved")
        msg = self._store(db, handoff.conversation_id, Sender.SYSTEM,
                          texts.text("survey_closed",
                                     language_of(db, handoff.conversation_id)),
                          outcome=Outcome.SURVEY)
        self._emit_message(db, handoff.conversation_id, msg, to_user=False)
        self._emit_state(db, handoff.conversation_id)
        db.commit()
        await self.ensure_resumed(rasa, handoff.conversation_id)
        return HandoffReply(Outcome.SURVEY, [msg], {"state": State.BOT.value, "survey": {
            "score": survey.score, "comment": survey.comment, "status": survey.status}})

    async def submit_survey(self, rasa: RasaClient, conversation_id: str, score: int,
                            comment: str | None) -> HandoffReply:
        """Survey through the API (score and comment in one call)."""
        with self._sessions() as db:
            self._require_conversation(db, conversation_id)
            if current_state(db, conversation_id) != State.RESOLVED:
                raise conflict("no_survey", "当前没有待评价的服务。",
                               "No survey is pending for this conversation.")
            handoff = self.current(db, conversation_id)
            assert handoff is not None
            survey = db.scalars(select(Survey).where(Survey.handoff_id == handoff.id)).first()
            if survey is None:
                survey = Survey(conversation_id=conversation_id, handoff_id=handoff.id,
                                agent_id=handoff.agent_id)
                db.add(survey)
            survey.score = score
            survey.comment = mask(comment.strip())[:1000] if comment and comment.strip() else None
            survey.status = "done"
            survey.answered_at = self.clock()
            return await self._close_survey(rasa, db, handoff, survey)
