"""Handoff operations: what the gateway does on the human path and what agents do.

Every state change goes through `api.handoff.state.apply` (conditional UPDATE + timestamped
transition row). Messages are written to the transcript PII-masked, fanned out through the
hub, and mirrored into the Rasa tracker (user -> `user` event, agent -> `bot` event with
`metadata.agent`) so the bot has the context when it resumes. The Rasa tracker is paused while
a human flow owns the conversation and resumed when it returns to the bot.

DB work here is synchronous (short SQLite/PostgreSQL statements); the methods that also talk
to Rasa are async and take the Rasa client as an argument, so a test can swap it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.conversation.rasa_client import RasaClient, RasaUnavailable
from api.core.config import Settings
from api.core.errors import ApiError
from api.handoff import queue as hq
from api.handoff.hours import WorkingHours
from api.handoff.hub import STAFF, Hub, conversation_topic
from api.handoff.profiles import TIER_LABELS, ProfileLookup
from api.handoff.queue import aware
from api.handoff.state import InvalidTransition, State, StateConflict, apply, current_state
from api.models import (
    Conversation,
    Handoff,
    KBEvent,
    Message,
    StaffUser,
    Survey,
    Ticket,
    Transition,
    utcnow,
)
from pii import mask

logger = logging.getLogger(__name__)

DESK_ROLES = ("agent", "supervisor", "admin")
SKILL_GROUPS = tuple(hq.GROUP_LABELS)
CANCEL_QUEUE_PAYLOAD = "/cancel_queue"
SURVEY_SKIP_PAYLOAD = "/survey_skip"
CANCEL_TICKET_PAYLOAD = "/cancel_ticket"
CANCEL_QUEUE_WORDS = frozenset({"取消排队", "取消", "不排了", "不等了", "退出排队", "取消转人工",
                                CANCEL_QUEUE_PAYLOAD})
CANCEL_TICKET_WORDS = frozenset({"取消", "取消留言", "不留言了", "不用了", CANCEL_TICKET_PAYLOAD})
SURVEY_PAYLOAD = re.compile(r'^/survey\{\s*"score"\s*:\s*([1-5])\s*\}$')
SURVEY_DIGIT = re.compile(r"^\s*([1-5])\s*分?\s*$")
MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")
LANDLINE = re.compile(r"^(0\d{2,3}\d{7,8})$")


@dataclass
class HandoffReply:
    """What the gateway returns to the cardholder for a turn handled by the handoff flow."""

    outcome: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).isoformat()


def message_public(row: Message) -> dict[str, Any]:
    """A transcript line as the widget and the console render it."""
    base = {"id": row.id, "sender": row.sender, "type": row.type, "text": row.text,
            "created_at": iso(row.created_at)}
    return {**(row.payload or {}), **base}


def agent_public(user: StaffUser) -> dict[str, Any]:
    return {"id": user.id, "name": user.display_name, "agent_no": user.agent_no or str(user.id)}


def normalise_phone(text: str) -> str | None:
    """A callback number from free text: mainland mobile or landline with area code."""
    digits = re.sub(r"[\s\-()（）]", "", text)
    for pattern in (MOBILE, LANDLINE):
        match = pattern.match(digits)
        if match:
            return match.group(1)
    return None


def conflict(code: str, zh: str, en: str, **extra: Any) -> ApiError:
    return ApiError(409, code, zh, en, **extra)


class HandoffService:
    """The human desk of one API process."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, hub: Hub,
                 profiles: ProfileLookup | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self.settings = settings
        self.hub = hub
        self.profiles = profiles or ProfileLookup(settings.card_db_url)
        self.clock = clock
        self.hours = WorkingHours.parse(settings.handoff_hours, settings.handoff_weekdays,
                                        settings.handoff_timezone)
        self.priority_reasons = frozenset(
            r.strip() for r in settings.handoff_priority_reasons.split(",") if r.strip())

    # ------------------------------------------------------------------ helpers

    def _store(self, db: Session, conversation_id: str, sender: str, text: str, *,
               outcome: str | None = None, buttons: list[dict[str, str]] | None = None,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = dict(extra or {})
        if buttons:
            payload["buttons"] = buttons
        row = Message(conversation_id=conversation_id, sender=sender,
                      type="buttons" if buttons else "text", text=mask(text),
                      payload=payload or None, outcome=outcome, created_at=self.clock())
        db.add(row)
        db.flush()
        return message_public(row)

    @staticmethod
    def current(db: Session, conversation_id: str) -> Handoff | None:
        """The open handoff episode of a conversation, if any."""
        return db.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id,
                                                Handoff.ended_at.is_(None))
                          .order_by(Handoff.id.desc())).first()

    def _queued(self, db: Session) -> list[Handoff]:
        return list(db.scalars(
            select(Handoff).join(Conversation, Conversation.id == Handoff.conversation_id)
            .where(Conversation.state == State.QUEUED.value, Handoff.ended_at.is_(None))))

    def _desk_staff(self, db: Session) -> list[StaffUser]:
        return list(db.scalars(select(StaffUser).where(StaffUser.role.in_(DESK_ROLES),
                                                       StaffUser.active.is_(True))))

    def queue_info(self, db: Session, handoff: Handoff) -> dict[str, Any]:
        info = hq.queue_info(handoff, self._queued(db), self._desk_staff(db),
                             self.settings.handoff_avg_handle_seconds)
        return info.public()

    def _publish_message(self, conversation_id: str, message: dict[str, Any], *,
                         to_user: bool) -> None:
        if to_user:
            self.hub.publish(conversation_topic(conversation_id),
                             {"type": "message", "message": message})
        self.hub.publish(STAFF, {"type": "message", "conversation_id": conversation_id,
                                 "message": message})

    def _publish_state(self, db: Session, conversation_id: str) -> None:
        """Tell the widget and the consoles the new state; refresh everyone's queue position."""
        status = self.status(db, conversation_id)
        self.hub.publish(conversation_topic(conversation_id), {"type": "state", **status})
        self.hub.publish(STAFF, {"type": "state", **status})
        self._publish_positions(db)

    def _publish_positions(self, db: Session) -> None:
        queued = self._queued(db)
        staff = self._desk_staff(db)
        for h in queued:
            topic = conversation_topic(h.conversation_id)
            if self.hub.subscribers(topic):
                info = hq.queue_info(h, queued, staff, self.settings.handoff_avg_handle_seconds)
                self.hub.publish(topic, {"type": "queue", "conversation_id": h.conversation_id,
                                         "queue": info.public()})
        self.hub.publish(STAFF, {"type": "queue", "size": len(queued)})

    @staticmethod
    def _actor(user: StaffUser) -> str:
        return f"agent:{user.username}"

    def _apply(self, db: Session, conversation_id: str, event: str, actor: str,
               handoff: Handoff | None, expected: State | None = None,
               details: dict[str, Any] | None = None) -> Transition:
        try:
            return apply(db, conversation_id, event, actor=actor,
                         handoff_id=handoff.id if handoff else None, expected=expected,
                         details=details)
        except InvalidTransition as exc:
            db.rollback()
            raise conflict("invalid_state", "当前会话状态不允许此操作。",
                           f"'{event}' is not allowed in state '{exc.state}'.",
                           state=exc.state) from exc
        except StateConflict as exc:
            db.rollback()
            raise conflict("state_changed", "会话状态已变化，请刷新后重试。",
                           "The conversation changed state meanwhile; reload and retry.") from exc

    # ------------------------------------------------------------------ Rasa side effects

    async def run_sweeper(self) -> None:
        """Background task (FastAPI lifespan): apply the queue timeout every few seconds."""
        while True:
            await asyncio.sleep(self.settings.handoff_sweep_seconds)
            try:
                await asyncio.to_thread(self.sweep)
            except Exception:
                logger.exception("handoff sweep failed")

    async def _rasa_events(self, rasa: RasaClient, conversation_id: str,
                           events: list[dict[str, Any]]) -> bool:
        try:
            await rasa.append_events(conversation_id, events)
            return True
        except RasaUnavailable as exc:
            logger.error("could not append %s to the Rasa tracker of %s: %s",
                         [e["event"] for e in events], conversation_id, exc)
            return False

    async def _pause(self, rasa: RasaClient, conversation_id: str, handoff_id: int) -> None:
        if await self._rasa_events(rasa, conversation_id,
                                   [{"event": "pause", "timestamp": time.time()}]):
            with self._sessions() as db:
                h = db.get(Handoff, handoff_id)
                if h is not None:
                    h.rasa_paused = True
                    db.commit()

    async def ensure_resumed(self, rasa: RasaClient, conversation_id: str) -> None:
        """Resume the Rasa tracker if a finished handoff left it paused (e.g. Rasa was down)."""
        with self._sessions() as db:
            pending = list(db.scalars(select(Handoff).where(
                Handoff.conversation_id == conversation_id, Handoff.ended_at.is_not(None),
                Handoff.rasa_paused.is_(True))))
            if not pending:
                return
            if await self._rasa_events(rasa, conversation_id,
                                       [{"event": "resume", "timestamp": time.time()}]):
                for h in pending:
                    h.rasa_paused = False
                db.commit()

    async def mirror_user(self, rasa: RasaClient, conversation_id: str, text: str) -> None:
        """Append what the cardholder said to the human to the (paused) Rasa tracker.

        Rasa 3.6 answers 500 to a user event without `parse_data`; an empty one (no intent,
        since NLU never ran on it) is accepted and the policies predict normally after resume.
        """
        await self._rasa_events(rasa, conversation_id, [{
            "event": "user", "text": mask(text), "parse_data": {}, "timestamp": time.time(),
            "metadata": {"handoff": True}}])

    async def mirror_agent(self, rasa: RasaClient, conversation_id: str, text: str,
                           agent: dict[str, Any]) -> None:
        await self._rasa_events(rasa, conversation_id, [{
            "event": "bot", "text": text, "timestamp": time.time(),
            "metadata": {"agent": agent}}])

    # ------------------------------------------------------------------ cardholder side

    async def request(self, rasa: RasaClient, conversation_id: str, request: dict[str, Any],
                      *, user_id: str, channel: str) -> HandoffReply:
        """Rasa asked for a human: queue the conversation (or take a message after hours)."""
        reason = str(request.get("reason") or "requested")
        group = str(request.get("group") or "general")
        if group not in SKILL_GROUPS:
            group = "general"
        priority = bool(request.get("priority")) or reason in self.priority_reasons
        profile = self.profiles.get(user_id)
        if group == "general" and profile.vip:
            group = "vip"
        now = self.clock()
        with self._sessions() as db:
            state = current_state(db, conversation_id)
            if state != State.BOT:  # already with the desk: just say where they are
                return self._status_reply(db, conversation_id)
            handoff = Handoff(conversation_id=conversation_id, user_id=user_id, channel=channel,
                              reason=reason, group=group, priority=priority, tier=profile.tier,
                              requested_at=now, queued_at=now)
            db.add(handoff)
            db.flush()
            if not self.hours.is_open(now):
                self._apply(db, conversation_id, "leave_message", "system", handoff,
                            expected=State.BOT, details={"cause": "outside_hours"})
                msg = self._open_ticket(db, handoff, "outside_hours")
                db.commit()
                reply = HandoffReply("ticket", [msg], {"state": State.TICKET.value,
                                                       "ticket": {"cause": "outside_hours"},
                                                       "working_hours": self.hours.describe()})
            else:
                self._apply(db, conversation_id, "request", "system", handoff,
                            expected=State.BOT, details={"reason": reason, "group": group})
                info = self.queue_info(db, handoff)
                minutes = max(1, round(info["estimated_wait_seconds"] / 60))
                lead = ("尊敬的白金卡客户，已为您优先接入贵宾专席。" if group == "vip"
                        else "已为您接入人工客服队列。")
                text = (f"{lead}您当前排在第 {info['position']} 位，预计等待约 {minutes} 分钟。"
                        "等待期间您可以继续描述问题，客服接入后会第一时间看到。")
                msg = self._store(db, conversation_id, "system", text, outcome="handoff",
                                  buttons=[{"title": "取消排队", "payload": CANCEL_QUEUE_PAYLOAD}])
                db.commit()
                reply = HandoffReply("handoff", [msg], {
                    "state": State.QUEUED.value, "queue": info,
                    "handoff": {"reason": reason, "group": group, "priority": priority,
                                "tier": profile.tier}})
            self._publish_message(conversation_id, msg, to_user=False)
            self._publish_state(db, conversation_id)
            handoff_id = handoff.id
        await self._pause(rasa, conversation_id, handoff_id)
        return reply

    def _status_reply(self, db: Session, conversation_id: str) -> HandoffReply:
        status = self.status(db, conversation_id)
        outcome = {"queued": "handoff", "assigned": "agent", "ticket": "ticket",
                   "resolved": "survey"}.get(status["state"], "handoff")
        return HandoffReply(outcome, [], status)

    @staticmethod
    def is_handoff_payload(text: str) -> bool:
        """Button payloads of the handoff flow, which must never reach Rasa."""
        text = text.strip()
        return (text in (CANCEL_QUEUE_PAYLOAD, SURVEY_SKIP_PAYLOAD, CANCEL_TICKET_PAYLOAD)
                or SURVEY_PAYLOAD.match(text) is not None)

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
                        if self.is_handoff_payload(text) else None)
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
                    db.commit()
                    self._publish_state(db, conversation_id)
                    return HandoffReply("ticket", [msg], {"state": State.TICKET.value,
                                                          "ticket": {"cause": "timeout"}})
                return await self._to_desk(rasa, db, handoff, text, "handoff")
            if state == State.ASSIGNED:
                return await self._to_desk(rasa, db, handoff, text, "agent")
            if state == State.RESOLVED:
                return await self._survey_turn(rasa, db, handoff, text)
            if state == State.TICKET:
                return await self._ticket_turn(rasa, db, handoff, text)
        return None

    def _stale_button(self, db: Session, conversation_id: str, text: str) -> HandoffReply:
        """A handoff button clicked after its flow ended (the bot owns the conversation)."""
        if text == CANCEL_QUEUE_PAYLOAD:
            reply, outcome = "您当前没有在排队。小卡继续为您服务，有问题随时问我。", "cancelled"
        elif text == CANCEL_TICKET_PAYLOAD:
            reply, outcome = "当前没有进行中的留言。小卡继续为您服务，有问题随时问我。", "ticket"
        else:
            reply, outcome = "本次服务的评价已结束，感谢您的反馈！有问题随时问我。", "survey"
        msg = self._store(db, conversation_id, "system", reply, outcome=outcome)
        db.commit()
        return HandoffReply(outcome, [msg], {"state": State.BOT.value})

    async def _to_desk(self, rasa: RasaClient, db: Session, handoff: Handoff, text: str,
                       outcome: str) -> HandoffReply:
        conversation_id = handoff.conversation_id
        handoff.last_user_text = mask(text)[:500]
        handoff.last_user_at = self.clock()
        db.commit()
        last = db.scalars(select(Message).where(Message.conversation_id == conversation_id,
                                                Message.sender == "user")
                          .order_by(Message.id.desc())).first()
        if last is not None:
            self._publish_message(conversation_id, message_public(last), to_user=False)
        details = self.status(db, conversation_id)
        if outcome == "handoff":
            self.hub.publish(STAFF, {"type": "queue"})
        await self.mirror_user(rasa, conversation_id, text)
        return HandoffReply(outcome, [], details)

    async def cancel(self, rasa: RasaClient, conversation_id: str,
                     actor: str = "user") -> HandoffReply:
        """The cardholder stops waiting: back to the bot."""
        with self._sessions() as db:
            if current_state(db, conversation_id) != State.QUEUED:
                raise conflict("not_queued", "您当前没有在排队。",
                               "The conversation is not waiting in the queue.")
            handoff = self.current(db, conversation_id)
            self._apply(db, conversation_id, "cancel", actor, handoff, expected=State.QUEUED)
            if handoff is not None:
                handoff.ended_at = self.clock()
                handoff.end_reason = "cancelled"
            msg = self._store(db, conversation_id, "system",
                              "已为您取消排队。小卡继续为您服务，有问题随时问我。",
                              outcome="cancelled")
            db.commit()
            self._publish_message(conversation_id, msg, to_user=False)
            self._publish_state(db, conversation_id)
        await self.ensure_resumed(rasa, conversation_id)
        return HandoffReply("cancelled", [msg], {"state": State.BOT.value})

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
                db.commit()
                self._publish_state(db, handoff.conversation_id)
                await self.ensure_resumed(rasa, handoff.conversation_id)
                return None
            survey.score = int(match.group(1))
            survey.status = "comment"
            survey.answered_at = self.clock()
            msg = self._store(db, handoff.conversation_id, "system",
                              f"感谢您的评分（{survey.score} 分）！还有什么意见或建议吗？"
                              "可以直接输入；不需要的话请点击“不用了”。", outcome="survey",
                              buttons=[{"title": "不用了", "payload": SURVEY_SKIP_PAYLOAD}])
            db.commit()
            self._publish_message(handoff.conversation_id, msg, to_user=False)
            return HandoffReply("survey", [msg], {"state": State.RESOLVED.value,
                                                  "survey": {"score": survey.score,
                                                             "status": survey.status}})
        if text != SURVEY_SKIP_PAYLOAD:
            survey.comment = mask(text)[:1000]
        survey.status = "done"
        return await self._close_survey(rasa, db, handoff, survey)

    async def _close_survey(self, rasa: RasaClient, db: Session, handoff: Handoff,
                            survey: Survey) -> HandoffReply:
        self._finish(db, handoff, "survey_done", "user", "resolved")
        msg = self._store(db, handoff.conversation_id, "system",
                          "感谢您的评价！小卡继续为您服务，有问题随时问我。", outcome="survey")
        db.commit()
        self._publish_message(handoff.conversation_id, msg, to_user=False)
        self._publish_state(db, handoff.conversation_id)
        await self.ensure_resumed(rasa, handoff.conversation_id)
        return HandoffReply("survey", [msg], {"state": State.BOT.value, "survey": {
            "score": survey.score, "comment": survey.comment, "status": survey.status}})

    async def submit_survey(self, rasa: RasaClient, conversation_id: str, score: int,
                            comment: str | None) -> HandoffReply:
        """Survey through the API (score and comment in one call)."""
        with self._sessions() as db:
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

    def _finish(self, db: Session, handoff: Handoff, event: str, actor: str,
                end_reason: str) -> None:
        """End the episode: back to the bot (the caller commits, then resumes Rasa)."""
        self._apply(db, handoff.conversation_id, event, actor, handoff)
        handoff.ended_at = self.clock()
        handoff.end_reason = handoff.end_reason or end_reason

    # ---- leave a message (tickets)

    def _open_ticket(self, db: Session, handoff: Handoff, cause: str) -> dict[str, Any]:
        db.add(Ticket(conversation_id=handoff.conversation_id, handoff_id=handoff.id,
                      user_id=handoff.user_id, channel=handoff.channel, cause=cause,
                      reason=handoff.reason, group=handoff.group, tier=handoff.tier,
                      priority=handoff.priority, created_at=self.clock()))
        if cause == "outside_hours":
            lead = (f"当前为非人工服务时间（人工服务时间：{self.hours.describe()}），"
                    "暂时无法接通人工客服。")
        else:
            minutes = max(1, self.settings.handoff_queue_timeout_seconds // 60)
            lead = f"非常抱歉，当前人工客服繁忙，您已等待超过 {minutes} 分钟。"
        text = (f"{lead}您可以留言，我们会尽快回电。\n"
                "请简要描述您要咨询的问题（回复“取消”可退出留言）：")
        return self._store(db, handoff.conversation_id, "system", text, outcome="ticket",
                           buttons=[{"title": "取消留言", "payload": CANCEL_TICKET_PAYLOAD}])

    def _timed_out(self, handoff: Handoff, now: datetime | None = None) -> bool:
        limit = timedelta(seconds=self.settings.handoff_queue_timeout_seconds)
        return (now or self.clock()) - aware(handoff.queued_at) >= limit

    def _timeout(self, db: Session, handoff: Handoff) -> dict[str, Any]:
        self._apply(db, handoff.conversation_id, "timeout", "system", handoff,
                    expected=State.QUEUED)
        return self._open_ticket(db, handoff, "timeout")

    def sweep(self) -> int:
        """Move conversations that waited longer than the queue timeout to the ticket flow."""
        moved = 0
        now = self.clock()
        with self._sessions() as db:
            for handoff in self._queued(db):
                if not self._timed_out(handoff, now):
                    continue
                try:
                    msg = self._timeout(db, handoff)
                    db.commit()
                except ApiError:  # accepted or cancelled meanwhile
                    continue
                moved += 1
                self._publish_message(handoff.conversation_id, msg, to_user=True)
                self._publish_state(db, handoff.conversation_id)
        return moved

    async def _ticket_turn(self, rasa: RasaClient, db: Session, handoff: Handoff,
                           text: str) -> HandoffReply:
        ticket = db.scalars(select(Ticket).where(Ticket.handoff_id == handoff.id)
                            .order_by(Ticket.id.desc())).first()
        if ticket is None or text in CANCEL_TICKET_WORDS:
            if ticket is not None:
                ticket.status = "cancelled"
            self._finish(db, handoff, "ticket_done", "user", "ticket_cancelled")
            msg = self._store(db, handoff.conversation_id, "system",
                              "好的，已取消留言。小卡继续为您服务，有问题随时问我。",
                              outcome="ticket")
            db.commit()
            self._publish_state(db, handoff.conversation_id)
            await self.ensure_resumed(rasa, handoff.conversation_id)
            return HandoffReply("ticket", [msg], {"state": State.BOT.value,
                                                  "ticket": {"status": "cancelled"}})
        if ticket.step == "message":
            ticket.message = mask(text)[:2000]
            ticket.step = "phone"
            msg = self._store(db, handoff.conversation_id, "system",
                              "已记录您的问题。请留下方便联系您的电话号码（手机号或带区号的座机）：",
                              outcome="ticket")
            db.commit()
            return HandoffReply("ticket", [msg], {"state": State.TICKET.value,
                                                  "ticket": {"id": ticket.id, "step": "phone"}})
        number = normalise_phone(text)
        if number is None:
            msg = self._store(db, handoff.conversation_id, "system",
                              "号码格式不正确，请输入 11 位手机号（如 13800138000）"
                              "或带区号的座机号（如 010-12345678）。", outcome="ticket")
            db.commit()
            return HandoffReply("ticket", [msg], {"state": State.TICKET.value,
                                                  "ticket": {"id": ticket.id, "step": "phone"}})
        ticket.callback_number = number
        ticket.status = "open"
        ticket.step = "done"
        ticket.submitted_at = self.clock()
        self._finish(db, handoff, "ticket_done", "user", ticket.cause)
        msg = self._store(db, handoff.conversation_id, "system",
                          f"留言已提交（工单号 T{ticket.id:06d}），我们会尽快回电至尾号 "
                          f"{number[-4:]} 的号码。小卡继续为您服务，有问题随时问我。",
                          outcome="ticket")
        db.commit()
        self.hub.publish(STAFF, {"type": "tickets"})
        self._publish_state(db, handoff.conversation_id)
        await self.ensure_resumed(rasa, handoff.conversation_id)
        return HandoffReply("ticket", [msg], {"state": State.BOT.value,
                                              "ticket": {"id": ticket.id, "status": "open"}})

    # ------------------------------------------------------------------ status / transcript

    def status(self, db: Session, conversation_id: str) -> dict[str, Any]:
        """State, queue position / agent, for the widget."""
        state = current_state(db, conversation_id)
        out: dict[str, Any] = {"conversation_id": conversation_id, "state": state.value}
        handoff = self.current(db, conversation_id)
        if handoff is None:
            return out
        if state == State.QUEUED:
            out["queue"] = self.queue_info(db, handoff)
        if state in (State.ASSIGNED, State.RESOLVED) and handoff.agent_id:
            agent = db.get(StaffUser, handoff.agent_id)
            if agent is not None:
                out["agent"] = agent_public(agent)
        return out

    def get_status(self, conversation_id: str) -> dict[str, Any]:
        with self._sessions() as db:
            self._require_conversation(db, conversation_id)
            return self.status(db, conversation_id)

    @staticmethod
    def _require_conversation(db: Session, conversation_id: str) -> Conversation:
        conv = db.get(Conversation, conversation_id)
        if conv is None:
            raise ApiError(404, "conversation_not_found", "没有找到这个会话。",
                           "conversation_id not found")
        return conv

    def messages_after(self, conversation_id: str, after: int = 0,
                       limit: int = 200) -> dict[str, Any]:
        """Transcript lines with id > `after` (the cursor), oldest first."""
        with self._sessions() as db:
            self._require_conversation(db, conversation_id)
            rows = db.scalars(select(Message).where(Message.conversation_id == conversation_id,
                                                    Message.id > after)
                              .order_by(Message.id).limit(limit)).all()
            messages = [message_public(r) for r in rows]
            return {**self.status(db, conversation_id), "messages": messages,
                    "next_cursor": messages[-1]["id"] if messages else after}

    def transcript(self, conversation_id: str) -> dict[str, Any]:
        """Everything an agent needs: transcript with the KB entry/score of bot turns, profile,
        the current episode, surveys and the state history."""
        with self._sessions() as db:
            conv = self._require_conversation(db, conversation_id)
            rows = db.scalars(select(Message).where(Message.conversation_id == conversation_id)
                              .order_by(Message.id)).all()
            events = {e.user_message_id: e for e in db.scalars(
                select(KBEvent).where(KBEvent.conversation_id == conversation_id))}
            messages, turn_kb = [], None
            for row in rows:
                item = message_public(row)
                if row.sender == "user":
                    event = events.get(row.id)
                    turn_kb = None if event is None else {
                        "entry_id": event.entry_id, "score": event.score,
                        "outcome": event.outcome, "release": event.release,
                        "kb_event_id": event.id,
                        "candidates": ((event.details or {}).get("kb") or {}).get("candidates")}
                elif row.sender == "bot" and turn_kb is not None:
                    item["kb"] = turn_kb
                messages.append(item)
            handoff = self.current(db, conversation_id) or db.scalars(
                select(Handoff).where(Handoff.conversation_id == conversation_id)
                .order_by(Handoff.id.desc())).first()
            transitions = db.scalars(select(Transition)
                                     .where(Transition.conversation_id == conversation_id)
                                     .order_by(Transition.id)).all()
            surveys = db.scalars(select(Survey).where(Survey.conversation_id == conversation_id)
                                 .order_by(Survey.id)).all()
            return {
                **self.status(db, conversation_id),
                "user_id": conv.user_id, "channel": conv.channel,
                "handoff": self._handoff_public(db, handoff) if handoff else None,
                "profile": self.profiles.get(conv.user_id).public(),
                "messages": messages,
                "transitions": [{"from": t.from_state, "to": t.to_state, "event": t.event,
                                 "actor": t.actor, "at": iso(t.at)} for t in transitions],
                "surveys": [{"score": s.score, "comment": s.comment, "status": s.status,
                             "agent_id": s.agent_id, "at": iso(s.answered_at)}
                            for s in surveys],
            }

    def _handoff_public(self, db: Session, h: Handoff) -> dict[str, Any]:
        return {"id": h.id, "reason": h.reason, "group": h.group,
                "group_label": hq.GROUP_LABELS.get(h.group, h.group), "priority": h.priority,
                "tier": h.tier, "tier_label": TIER_LABELS.get(h.tier, h.tier),
                "requested_at": iso(h.requested_at), "assigned_at": iso(h.assigned_at),
                "agent_id": h.agent_id, "ended_at": iso(h.ended_at), "end_reason": h.end_reason}

    def latest_user_text(self, conversation_id: str) -> tuple[str, str]:
        """(masked text of the cardholder's latest message, channel)."""
        with self._sessions() as db:
            conv = self._require_conversation(db, conversation_id)
            row = db.scalars(select(Message).where(Message.conversation_id == conversation_id,
                                                   Message.sender == "user")
                             .order_by(Message.id.desc())).first()
            return (row.text if row else ""), conv.channel

    # ------------------------------------------------------------------ agent side

    def queue(self, agent: StaffUser) -> list[dict[str, Any]]:
        """Waiting conversations the agent may take, in serving order."""
        now = self.clock()
        with self._sessions() as db:
            queued = self._queued(db)
            staff = self._desk_staff(db)
            visible = [h for h in hq.ordered(queued)
                       if agent.role in ("supervisor", "admin") or h.group in (agent.groups or [])]
            items = []
            for h in visible:
                info = hq.queue_info(h, queued, staff, self.settings.handoff_avg_handle_seconds)
                items.append({
                    "conversation_id": h.conversation_id, "user_id": h.user_id,
                    "channel": h.channel, "tier": h.tier,
                    "tier_label": TIER_LABELS.get(h.tier, h.tier), "group": h.group,
                    "group_label": hq.GROUP_LABELS.get(h.group, h.group), "reason": h.reason,
                    "priority": h.priority, "position": info.position,
                    "waiting_seconds": int((now - aware(h.requested_at)).total_seconds()),
                    "last_message": h.last_user_text,
                    "last_message_at": iso(h.last_user_at), "requested_at": iso(h.requested_at),
                })
            return items

    def mine(self, agent: StaffUser) -> list[dict[str, Any]]:
        """Conversations the agent holds right now."""
        with self._sessions() as db:
            rows = db.execute(
                select(Handoff, Conversation.state)
                .join(Conversation, Conversation.id == Handoff.conversation_id)
                .where(Handoff.agent_id == agent.id, Handoff.ended_at.is_(None),
                       Conversation.state == State.ASSIGNED.value)
                .order_by(Handoff.assigned_at)).all()
            return [{"conversation_id": h.conversation_id, "user_id": h.user_id,
                     "channel": h.channel, "tier": h.tier,
                     "tier_label": TIER_LABELS.get(h.tier, h.tier), "group": h.group,
                     "reason": h.reason, "priority": h.priority, "state": state,
                     "last_message": h.last_user_text, "last_message_at": iso(h.last_user_at),
                     "assigned_at": iso(h.assigned_at)} for h, state in rows]

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
        if handoff.agent_id != agent.id and agent.role not in ("supervisor", "admin"):
            raise ApiError(403, "not_your_conversation", "该会话由其他客服接待。",
                           "This conversation is assigned to another agent.")
        return handoff

    def set_status(self, agent: StaffUser, status: str) -> StaffUser:
        with self._sessions() as db:
            user = self._load_agent(db, agent)
            user.status = status
            db.commit()
            self._publish_positions(db)
            return user

    def accept(self, conversation_id: str, agent: StaffUser) -> dict[str, Any]:
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
            if handoff.group not in (user.groups or []) and user.role not in ("supervisor",
                                                                              "admin"):
                raise ApiError(403, "wrong_group", "该会话不属于您的技能组。",
                               f"Conversation is queued for group '{handoff.group}'.")
            holding = db.scalar(
                select(func.count(Handoff.id))
                .join(Conversation, Conversation.id == Handoff.conversation_id)
                .where(Handoff.agent_id == user.id, Handoff.ended_at.is_(None),
                       Conversation.state == State.ASSIGNED.value)) or 0
            if holding >= user.capacity:
                raise conflict("capacity_full", f"您已同时接待 {holding} 个会话，达到上限。",
                               f"Capacity reached ({holding}/{user.capacity}).")
            try:
                apply(db, conversation_id, "accept", actor=self._actor(user),
                      handoff_id=handoff.id, expected=State.QUEUED)
            except (StateConflict, InvalidTransition) as exc:
                db.rollback()
                raise conflict("not_queued", "该会话已被其他客服接入。",
                               "Another agent accepted this conversation first.") from exc
            handoff.agent_id = user.id
            handoff.assigned_at = self.clock()
            who = agent_public(user)
            msg = self._store(db, conversation_id, "system",
                              f"人工客服 {who['agent_no']} 号为您服务。", outcome="agent",
                              extra={"agent": who, "event": "assigned"})
            db.commit()
            self._publish_message(conversation_id, msg, to_user=True)
            self._publish_state(db, conversation_id)
            return {**self.status(db, conversation_id), "message": msg}

    async def agent_message(self, rasa: RasaClient, conversation_id: str, agent: StaffUser,
                            text: str) -> dict[str, Any]:
        """An agent writes to the cardholder: stored, pushed live, mirrored into Rasa."""
        with self._sessions() as db:
            self._owned(db, conversation_id, agent)
            who = agent_public(self._load_agent(db, agent))
            msg = self._store(db, conversation_id, "agent", text, outcome="agent",
                              extra={"agent": who})
            db.commit()
        self._publish_message(conversation_id, msg, to_user=True)
        await self.mirror_agent(rasa, conversation_id, msg["text"], who)
        return msg

    def resolve(self, conversation_id: str, agent: StaffUser) -> dict[str, Any]:
        """The agent closes the case; the cardholder gets the survey."""
        with self._sessions() as db:
            handoff = self._owned(db, conversation_id, agent)
            self._apply(db, conversation_id, "resolve", self._actor(agent), handoff,
                        expected=State.ASSIGNED)
            handoff.resolved_at = self.clock()
            db.add(Survey(conversation_id=conversation_id, handoff_id=handoff.id,
                          agent_id=handoff.agent_id, created_at=self.clock()))
            owner = db.get(StaffUser, handoff.agent_id) if handoff.agent_id else None
            number = agent_public(owner)["agent_no"] if owner else ""
            msg = self._store(
                db, conversation_id, "system",
                f"本次人工服务已结束，感谢您的耐心。请为人工客服 {number} 号的服务打分"
                "（1 分最低，5 分最高）：", outcome="survey",
                buttons=[{"title": str(n), "payload": f'/survey{{"score":{n}}}'}
                         for n in range(1, 6)],
                extra={"event": "survey"})
            db.commit()
            self._publish_message(conversation_id, msg, to_user=True)
            self._publish_state(db, conversation_id)
            return {**self.status(db, conversation_id), "message": msg}

    def transfer(self, conversation_id: str, agent: StaffUser, group: str,
                 note: str = "") -> dict[str, Any]:
        """Put the conversation back in the queue of another skill group."""
        if group not in SKILL_GROUPS:
            raise ApiError(422, "unknown_group", "没有这个技能组。",
                           f"group must be one of {list(SKILL_GROUPS)}")
        with self._sessions() as db:
            handoff = self._owned(db, conversation_id, agent)
            self._apply(db, conversation_id, "transfer", self._actor(agent), handoff,
                        expected=State.ASSIGNED,
                        details={"from_group": handoff.group, "to_group": group,
                                 "note": mask(note)[:500]})
            handoff.group = group
            handoff.agent_id = None
            handoff.assigned_at = None
            handoff.queued_at = self.clock()
            msg = self._store(db, conversation_id, "system",
                              f"正在为您转接至{hq.GROUP_LABELS[group]}，请稍候。",
                              outcome="handoff", extra={"event": "transfer"})
            db.commit()
            self._publish_message(conversation_id, msg, to_user=True)
            self._publish_state(db, conversation_id)
            return {**self.status(db, conversation_id), "message": msg}

    # ---- tickets

    def tickets(self, status: str = "open") -> list[dict[str, Any]]:
        """Left messages, priority first, oldest first."""
        with self._sessions() as db:
            rows = db.scalars(select(Ticket).where(Ticket.status == status)
                              .order_by(Ticket.priority.desc(), Ticket.submitted_at,
                                        Ticket.id)).all()
            return [self._ticket_public(t) for t in rows]

    @staticmethod
    def _ticket_public(t: Ticket) -> dict[str, Any]:
        return {"id": t.id, "number": f"T{t.id:06d}", "conversation_id": t.conversation_id,
                "user_id": t.user_id, "channel": t.channel, "cause": t.cause,
                "reason": t.reason, "group": t.group, "tier": t.tier,
                "tier_label": TIER_LABELS.get(t.tier, t.tier), "priority": t.priority,
                "status": t.status, "message": t.message,
                "callback_number": t.callback_number, "created_at": iso(t.created_at),
                "submitted_at": iso(t.submitted_at), "closed_at": iso(t.closed_at),
                "note": t.note}

    def close_ticket(self, ticket_id: int, agent: StaffUser, note: str = "") -> dict[str, Any]:
        with self._sessions() as db:
            ticket = db.get(Ticket, ticket_id)
            if ticket is None:
                raise ApiError(404, "ticket_not_found", "没有找到这个工单。", "ticket not found")
            if ticket.status != "open":
                raise conflict("ticket_not_open", "该工单不是待处理状态。",
                               f"Ticket is '{ticket.status}', not open.")
            ticket.status = "closed"
            ticket.closed_at = self.clock()
            ticket.closed_by = agent.id
            ticket.note = mask(note)[:1000]
            db.commit()
            self.hub.publish(STAFF, {"type": "tickets"})
            return self._ticket_public(ticket)
