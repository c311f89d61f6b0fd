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
from api.models import Conversation, KBEvent, Message
from pii import mask
from vocab import MessageType, Outcome, Sender, State
from vocab.language import next_language, switch_command

logger = logging.getLogger(__name__)

APOLOGY = "抱歉，智能客服暂时开小差了，请稍后再试，或拨打信用卡客服热线 400-123-4567。"
APOLOGY_EN = ("Sorry, the assistant is not available right now. Please try again later, or call "
              "the card hotline 400-123-4567 (24/7).")
# The reply to an explicit language switch ("English please", "请说中文", the widget toggle).
SWITCHED = {"en": "OK, I'll reply in English from now on. How can I help you with your card?",
            "zh": "好的，接下来小卡用中文为您服务。请问有什么可以帮您？"}
DEFAULT_OUTCOME = Outcome.ANSWERED


@dataclass(frozen=True)
class IncomingMessage:
    """The one typed message every channel adapter produces."""

    channel: str
    user_id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


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
            language = next_language(conv.language, incoming.text)
            changed = language != conv.language
            if changed:
                conv.language = language
                db.commit()
            if conv.state == State.BOT and switch_command(incoming.text) is not None:
                msg = {"type": MessageType.TEXT.value, "text": SWITCHED[language]}
                row = self.store(db, conv.id, Sender.BOT, msg, outcome=Outcome.ANSWERED)
                await self._tell_rasa_language(conv.id, language, changed)
                return GatewayReply(conv.id, Outcome.ANSWERED, [{**msg, "id": row.id}],
                                    {"language": language})
            # human path: queued, with an agent, survey, leaving a message (or a stale button)
            if conv.state != State.BOT or self.handoff.is_handoff_payload(incoming.text):
                human = await self.handoff.on_user_message(self._rasa, conv.id, incoming.text)
                if human is not None:
                    return self._human_reply(conv.id, human)
            await self.handoff.ensure_resumed(self._rasa, conv.id)
            metadata = {"user_id": incoming.user_id, "channel": incoming.channel,
                        **incoming.metadata, "language": language}
            try:
                await self._tell_rasa_language(conv.id, language, changed)
                raw = await self._rasa.send(conv.id, incoming.text, metadata)
            except RasaUnavailable as exc:
                logger.error("Rasa unavailable for conversation %s: %s", conv.id, exc)
                msg = {"type": MessageType.TEXT.value,
                       "text": APOLOGY_EN if language == "en" else APOLOGY}
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
            if outcome == Outcome.HANDOFF:  # the bot asked for a human: queue (or take a message)
                human = await self.handoff.request(
                    self._rasa, conv.id, meta.get("handoff") or {}, user_id=incoming.user_id,
                    channel=incoming.channel)
                stored.extend(dict(m) for m in human.messages)
                details.update(human.details)
                outcome = human.outcome
            details.setdefault("language", language)
            return GatewayReply(conv.id, outcome, stored, details)

    async def _tell_rasa_language(self, conversation_id: str, language: str,
                                  changed: bool) -> None:
        """Set Rasa's `language` slot (its responses have an English variation conditioned on
        it) when the conversation's language changed, and on every English turn (a tracker
        that missed the change, e.g. while Rasa was down, is corrected at the next one)."""
        if not changed and language != "en":
            return
        await self._rasa.append_events(
            conversation_id, [{"event": "slot", "name": "language", "value": language}])

    @staticmethod
    def _human_reply(conversation_id: str, human: HandoffReply) -> GatewayReply:
        return GatewayReply(conversation_id, human.outcome, [dict(m) for m in human.messages],
                            human.details)
