"""The one gateway every channel goes through: store the message, decide bot vs human, reply."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.conversation.rasa_client import RasaClient, RasaUnavailable
from api.handoff.service import HandoffReply, HandoffService
from api.insights.nps import NpsSurvey, is_closing
from api.insights.nps import question_message as nps_question
from api.insights.sessions import SessionTracker
from api.models import Conversation, KBEvent, Message, ServiceSession
from pii import mask
from vocab import MessageType, Outcome, Sender, State

logger = logging.getLogger(__name__)

APOLOGY = "抱歉，智能客服暂时开小差了，请稍后再试，或拨打信用卡客服热线 400-123-4567。"
DEFAULT_OUTCOME = Outcome.ANSWERED


@dataclass(frozen=True)
class IncomingMessage:
    """The one typed message every channel adapter produces."""

    channel: str
    user_id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    # The channel proved who the user is (signed web identity, WeChat's signed openid). Only
    # then may the bot's actions read a card account (`user_verified` metadata).
    verified: bool = False


@dataclass
class GatewayReply:
    """What a channel adapter renders back to the user."""

    conversation_id: str
    outcome: str
    messages: list[dict[str, Any]]
    details: dict[str, Any] = field(default_factory=dict)


def convert_rasa_messages(raw: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Split Rasa's REST output into user-visible messages and the actions' meta block."""
    messages: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}
    for item in raw:
        custom = item.get("custom")
        if isinstance(custom, dict) and "meta" in custom:
            meta.update(custom["meta"])  # later meta wins: the last action of the turn decides
            continue
        if isinstance(custom, dict) and "link" in custom:
            link = custom["link"]
            messages.append({"type": MessageType.LINK.value, "text": link.get("title", ""),
                             "url": link.get("url")})
            continue
        if item.get("buttons"):
            buttons = [{"title": b.get("title", ""), "payload": b.get("payload", "")}
                       for b in item["buttons"]]
            messages.append({"type": MessageType.BUTTONS.value, "text": item.get("text", ""),
                             "buttons": buttons})
        elif item.get("text"):
            messages.append({"type": MessageType.TEXT.value, "text": item["text"]})
        if item.get("image"):
            messages.append({"type": MessageType.IMAGE.value, "text": "", "url": item["image"]})
    return messages, meta


class Gateway:
    """Routes a message to Rasa (or, while a human owns the conversation, to the agent)."""

    def __init__(self, sessions: sessionmaker[Session], rasa: RasaClient,
                 handoff: HandoffService) -> None:
        self._sessions = sessions
        self._rasa = rasa
        self.handoff = handoff
        settings = handoff.settings
        self.tracker = SessionTracker(settings.insights_session_gap_minutes,
                                      lambda user_id: handoff.profiles.get(user_id).tier)
        self.nps = NpsSurvey(settings.insights_session_gap_minutes,
                             settings.insights_nps_enabled)

    def conversation_for(self, db: Session, channel: str, user_id: str) -> Conversation:
        """Get or create the conversation of a user on a channel (race-safe)."""
        stmt = select(Conversation).where(Conversation.channel == channel,
                                          Conversation.user_id == user_id)
        conv = db.scalars(stmt).first()
        if conv:
            return conv
        conv = Conversation(channel=channel, user_id=user_id)
        db.add(conv)
        try:
            db.commit()
        except IntegrityError:
            db.rollback()
            conv = db.scalars(stmt).one()
        return conv

    def store(self, db: Session, conversation_id: str, sender: str, msg: dict[str, Any],
              outcome: str | None = None) -> Message:
        """Write one transcript line with PII masked."""
        payload = {k: v for k, v in msg.items() if k not in ("type", "text")} or None
        row = Message(conversation_id=conversation_id, sender=sender,
                      type=msg.get("type", MessageType.TEXT.value),
                      text=mask(msg.get("text", "")), payload=payload, outcome=outcome)
        db.add(row)
        db.commit()
        return row

    async def handle(self, incoming: IncomingMessage) -> GatewayReply:
        """Store the user's message, get the bot's answer, store that, return it."""
        with self._sessions() as db:
            conv = self.conversation_for(db, incoming.channel, incoming.user_id)
            user_row = self.store(db, conv.id, Sender.USER, {"type": MessageType.TEXT.value,
                                                             "text": incoming.text})
            # the answer to a pending NPS question never reaches the NLU
            if conv.state == State.BOT:
                answered = self._nps_answer(db, conv.id, incoming.text)
                if answered is not None:
                    return answered
            session = self.tracker.current(db, conv)
            db.commit()
            # human path: queued, with an agent, survey, leaving a message (or a stale button)
            if conv.state != State.BOT or self.handoff.is_handoff_payload(incoming.text):
                human = await self.handoff.on_user_message(self._rasa, conv.id, incoming.text)
                if human is not None:
                    return self.after_human(conv.id, human)
            await self.handoff.ensure_resumed(self._rasa, conv.id)
            # The gateway's own keys come last: a client can never set them.
            metadata = {**incoming.metadata, "user_id": incoming.user_id,
                        "channel": incoming.channel, "user_verified": incoming.verified}
            try:
                # Rasa (and its tracker store) only ever sees the masked text: card and ID
                # numbers keep their last four characters, which is what the flows use.
                raw = await self._rasa.send(conv.id, mask(incoming.text), metadata)
            except RasaUnavailable as exc:
                logger.error("Rasa unavailable for conversation %s: %s", conv.id, exc)
                msg = {"type": MessageType.TEXT.value, "text": APOLOGY}
                row = self.store(db, conv.id, Sender.SYSTEM, msg, outcome=Outcome.UNAVAILABLE)
                return GatewayReply(conv.id, Outcome.UNAVAILABLE, [{**msg, "id": row.id}])

            messages, meta = convert_rasa_messages(raw)
            outcome = str(meta.get("outcome") or DEFAULT_OUTCOME)
            stored: list[dict[str, Any]] = []
            for msg in messages:
                row = self.store(db, conv.id, Sender.BOT, msg, outcome=outcome)
                stored.append({**msg, "id": row.id})
            details = {k: v for k, v in meta.items() if k != "outcome"}
            kb = meta.get("kb")
            if isinstance(kb, dict):
                event = KBEvent(conversation_id=conv.id, user_message_id=user_row.id,
                                query=mask(incoming.text), outcome=outcome,
                                entry_id=kb.get("entry_id"), score=kb.get("score"),
                                release=kb.get("release"), details=meta)
                db.add(event)
                db.commit()
                details["kb_event_id"] = event.id
            session = db.merge(session)
            self.tracker.record_turn(session, outcome,
                                     kb.get("entry_id") if isinstance(kb, dict) else None)
            db.commit()
            if outcome == Outcome.HANDOFF:  # the bot asked for a human: queue (or take a message)
                human = await self.handoff.request(
                    self._rasa, conv.id, meta.get("handoff") or {}, user_id=incoming.user_id,
                    channel=incoming.channel)
                stored.extend(dict(m) for m in human.messages)
                details.update(human.details)
                outcome = human.outcome
                session = db.merge(session)
                self.tracker.record_handoff(db, session, (meta.get("handoff") or {}).get("reason"))
                db.commit()
            elif outcome not in (Outcome.FORM, Outcome.UNAVAILABLE) and (
                    meta.get("end") == "goodbye" or is_closing(incoming.text)):
                trigger = "goodbye" if meta.get("end") == "goodbye" else "closing"
                stored.extend(self._ask_nps(db, session, trigger, details))
            return GatewayReply(conv.id, outcome, stored, details)

    # ---- NPS at the end of a session

    def _nps_answer(self, db: Session, conversation_id: str, text: str) -> GatewayReply | None:
        pending = self.nps.pending(db, conversation_id)
        if pending is None:
            db.commit()
            return None
        turn = self.nps.answer(db, pending, text)
        db.commit()
        if turn is None:  # ignored: the message is a normal one
            return None
        stored = []
        for msg in turn.messages:
            row = self.store(db, conversation_id, Sender.BOT, msg, outcome=Outcome.SURVEY)
            stored.append({**msg, "id": row.id})
        return GatewayReply(conversation_id, Outcome.SURVEY, stored, turn.details)

    def _ask_nps(self, db: Session, session: ServiceSession, trigger: str,
                 details: dict[str, Any], human: bool | None = None) -> list[dict[str, Any]]:
        """Ask the 0-10 question once per session (ends the session); the stored message."""
        session = db.merge(session)
        involved = self.tracker.human_involved(db, session) if human is None else human
        row = self.nps.ask(db, session, trigger, involved)
        if row is None:
            db.commit()
            return []
        self.tracker.end(session, trigger)
        db.commit()
        msg = nps_question()
        stored = self.store(db, session.conversation_id, Sender.BOT, msg, outcome=Outcome.SURVEY)
        details["nps"] = {"id": row.id, "status": row.status}
        return [{**msg, "id": stored.id}]

    def after_human(self, conversation_id: str, human: HandoffReply) -> GatewayReply:
        """The desk's reply; when it closed the agent survey, the NPS question follows."""
        reply = GatewayReply(conversation_id, human.outcome, [dict(m) for m in human.messages],
                             dict(human.details))
        survey = human.details.get("survey")
        if human.outcome == Outcome.SURVEY and human.details.get("state") == State.BOT and \
                isinstance(survey, dict) and survey.get("status") == "done":
            with self._sessions() as db:
                session = self.tracker.latest(db, conversation_id)
                if session is not None:
                    reply.messages.extend(self._ask_nps(db, session, "survey", reply.details,
                                                        human=True))
        return reply
