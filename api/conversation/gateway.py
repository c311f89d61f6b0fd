"""The one gateway every channel goes through: store the message, decide bot vs human, reply."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from anyio import to_thread
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.conversation import degraded
from api.conversation.limiter import AdaptiveLimit
from api.conversation.rasa_client import RasaClient, RasaUnavailable
from api.core import timing
from api.core.db import with_db_retry
from api.handoff.service import HandoffReply, HandoffService
from api.insights.nps import NpsSurvey, is_closing
from api.insights.nps import question_message as nps_question
from api.insights.sessions import SessionTracker
from api.models import Conversation, KBEvent, Message, ServiceSession
from api.models.conversation import utcnow
from knowledge_base.search.service import KBNotReady, KnowledgeService, UnknownEntry
from pii import mask
from vocab import DomainError, ErrorKind, MessageType, Outcome, Sender, State
from vocab.language import next_language, switch_command

logger = logging.getLogger(__name__)

APOLOGY = degraded.KB_DOWN
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
    # The channel proved who the user is (signed web identity, WeChat's signed openid). Only
    # then may the bot's actions read a card account (`user_verified` metadata).
    verified: bool = False
    # The channel accepts a message only by answering it (the widget's POST /api/v1/chat:
    # its 200 carries the reply): the usual bot turn may store the user line together with
    # the reply (`Gateway._begin`). Never for a channel that acknowledges before the reply
    # (WeChat's passive deadline).
    acked_by_reply: bool = False


@dataclass(frozen=True)
class _UserLine:
    """A user line not stored yet: it goes into the reply's transaction (`Gateway._finish`),
    with its service session, and is stored before the 200 like the reply."""

    conversation: Conversation  # detached (expire_on_commit=False): id, channel, user_id
    text: str
    arrived_at: datetime
    masked: str  # the text PII-masked (masked once per turn: stored, KB event, Rasa)


@dataclass
class _Begun:
    """What the first (database) step of a turn found out."""

    conversation_id: str
    state: str
    user_message_id: int  # 0 while the line is `deferred`
    session_id: int  # 0 while the line is `deferred`
    language: str
    language_changed: bool
    reply: GatewayReply | None = None  # answered already (NPS score, language switch)
    paused_handoffs: list[int] = field(default_factory=list)  # Rasa tracker to resume
    deferred: _UserLine | None = None
    masked: str = ""  # the user's text PII-masked, once per turn (line, KB event, Rasa)


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
    """Routes a message to Rasa (or, while a human owns the conversation, to the agent).

    Database work runs in worker threads (`anyio.to_thread`), never on the event loop, so one
    slow write does not stall every other conversation. When the bot is slow, down or failing
    (`RasaUnavailable`: over budget, breaker open, error, empty reply) the turn is answered in
    degraded mode from the in-process KB (`api/conversation/degraded.py`).
    """

    def __init__(self, sessions: sessionmaker[Session], rasa: RasaClient,
                 handoff: HandoffService, kb: KnowledgeService | None = None, *,
                 max_bot_inflight: int = 0, max_degraded_inflight: int = 0,
                 retry_after: int = 2) -> None:
        self._sessions = sessions
        self._rasa = rasa
        self.handoff = handoff
        self.kb = kb
        self.max_degraded_inflight = max_degraded_inflight
        self.retry_after = retry_after
        self.degraded_inflight = 0
        settings = handoff.settings
        # below max_bot_inflight while the bot is slow (api/conversation/limiter.py)
        self.bot_limit = AdaptiveLimit(max_bot_inflight, minimum=settings.bot_min_inflight,
                                       target=min(settings.bot_target_seconds,
                                                  settings.bot_budget_seconds))
        self.tracker = SessionTracker(settings.insights_session_gap_minutes,
                                      lambda user_id: handoff.profiles.get(user_id).tier)
        self.nps = NpsSurvey(settings.insights_session_gap_minutes,
                             settings.insights_nps_enabled)

    @property
    def max_bot_inflight(self) -> int:
        """BOT_MAX_INFLIGHT: the adaptive limit's ceiling (0: no limit)."""
        return self.bot_limit.maximum

    @max_bot_inflight.setter
    def max_bot_inflight(self, value: int) -> None:
        self.bot_limit.set_maximum(value)

    def _bot_saturated(self) -> bool:
        return not self.bot_limit.admits(self._rasa.inflight)

    def _shed_if_overloaded(self) -> None:
        """Refuse the turn before anything is stored when the bot and the KB path are both
        full: 429 + Retry-After, with a polite message (never a 5xx, never a long wait)."""
        if self._bot_saturated() and 0 < self.max_degraded_inflight <= self.degraded_inflight:
            raise DomainError(ErrorKind.BUSY, "busy", "当前咨询人数较多，请稍后几秒再试。",
                              "Too many conversations right now; please retry shortly.",
                              retry_after=self.retry_after)

    def conversation_for(self, db: Session, channel: str, user_id: str) -> Conversation:
        """Get or create the conversation of a user on a channel (race-safe)."""
        # Asked twice in a turn's first step (the route's per-conversation rate limit, then
        # the turn itself) on one session: the second time is the row already in hand.
        key = ("conversation", channel, user_id)
        known = db.info.get(key)
        if known is not None and known in db:
            return known  # type: ignore[no-any-return]
        where = (Conversation.channel == channel, Conversation.user_id == user_id)
        # The same statement tells the turn whether a survey question may be pending and
        # whether a finished handoff left the tracker paused (`_begin`): almost never, and
        # then each needs no query of its own.
        found = db.execute(select(Conversation, self.nps.may_be_pending(Conversation.id),
                                  self.handoff.paused_after_end_exists(Conversation.id))
                           .where(*where)).first()
        if found is not None:
            conv, survey_open, paused = found
            db.info[("turn_hints", conv.id)] = (bool(survey_open), bool(paused))
        else:
            conv = Conversation(channel=channel, user_id=user_id)
            db.add(conv)
            try:
                db.commit()
                db.info[("turn_hints", conv.id)] = (False, False)  # new: nothing to look up
            except IntegrityError:
                db.rollback()
                conv = db.scalars(select(Conversation).where(*where)).one()
        db.info[key] = conv
        return conv

    @staticmethod
    def _row(conversation_id: str, sender: str, msg: dict[str, Any],
             outcome: str | None = None, masked: str | None = None) -> Message:
        """One transcript line as an ORM row (the same values as `_line_values`)."""
        return Message(**Gateway._line_values(conversation_id, sender, msg, outcome,
                                              masked=masked))

    def store(self, db: Session, conversation_id: str, sender: str, msg: dict[str, Any],
              outcome: str | None = None) -> Message:
        """Write one transcript line with PII masked."""
        row = self._row(conversation_id, sender, msg, outcome)
        db.add(row)
        db.commit()
        return row

    # --- the database steps of a turn (each in a worker thread) --------------------------

    def _begin(self, incoming: IncomingMessage, db: Session) -> _Begun:
        """Conversation (created if new), the stored user message, its language and the
        service session; a reply when the message was a survey score or a language switch.
        In the caller's session (the one its admission checks used).

        For a channel whose 200 is the reply itself (`acked_by_reply`: nothing is accepted
        before the reply is stored) the usual bot turn stores nothing here: the user line and its
        service session go into the reply's one transaction (`_finish`), one commit per
        message instead of two (each a WAL flush: SQLite fsync, a PostgreSQL round trip and
        fsync). A crash in between loses no accepted message: the caller got no 200. The
        human path, survey answers and language switches store the line here as before."""
        conv = self.conversation_for(db, incoming.channel, incoming.user_id)
        arrived = utcnow()
        masked = mask(incoming.text)
        language = next_language(conv.language, incoming.text)
        changed = language != conv.language
        if changed:
            conv.language = language
        if (incoming.acked_by_reply and conv.state == State.BOT
                and switch_command(incoming.text) is None
                and not self.handoff.is_handoff_payload(incoming.text)):
            # (survey may be pending, tracker paused) from the conversation lookup; unknown
            # (True, True) when this session did not look it up
            survey_open, paused_any = db.info.get(("turn_hints", conv.id), (True, True))
            with db.no_autoflush:  # reads only, so `dirty` below tells whether to commit
                survey = self.nps.pending(db, conv.id) if survey_open else None
                paused = (self.handoff.paused_after_end_in(db, conv.id)
                          if survey is None and paused_any else [])
            if survey is None:
                if db.dirty or db.new:  # a new language, an expired survey question
                    db.commit()
                return _Begun(conv.id, str(conv.state), 0, 0, language, changed,
                              paused_handoffs=paused,
                              deferred=_UserLine(conv, incoming.text, arrived, masked),
                              masked=masked)
        # One commit for this turn's first step (user line, language, survey check, service
        # session). Nothing between the flush and the commit leaves this thread, so the line
        # is durable before the bot (or the desk) is asked.
        row = self._row(conv.id, Sender.USER, {"type": MessageType.TEXT.value,
                                               "text": incoming.text}, masked=masked)
        row.created_at = arrived
        db.add(row)
        db.flush()  # the line's id
        begun = _Begun(conv.id, str(conv.state), row.id, 0, language, changed, masked=masked)
        if conv.state == State.BOT and switch_command(incoming.text) is not None:
            msg = {"type": MessageType.TEXT.value, "text": SWITCHED[language]}
            reply_row = self.store(db, conv.id, Sender.BOT, msg, outcome=Outcome.ANSWERED)
            begun.reply = GatewayReply(conv.id, Outcome.ANSWERED,
                                       [{**msg, "id": reply_row.id}], {"language": language})
            return begun
        # the answer to a pending NPS question never reaches the NLU
        answered = (self._nps_answer(db, conv.id, incoming.text)
                    if conv.state == State.BOT else None)
        if answered is not None:  # an answer to the survey opens no new session
            begun.reply = answered
            return begun
        begun.session_id = self.tracker.current(db, conv).id
        begun.paused_handoffs = self.handoff.paused_after_end_in(db, conv.id)
        db.commit()
        return begun

    def _record(self, db: Session, session_id: int, outcome: str, kb_entry: str | None,
                handoff_reason: str | None = None, *, handoff: bool = False) -> None:
        """The turn's outcome (and a handoff) on the service session (dashboard figures), in
        the caller's transaction."""
        session = db.get(ServiceSession, session_id)
        if session is None:
            return
        self.tracker.record_turn(session, outcome, kb_entry)
        if handoff:
            self.tracker.record_handoff(db, session, handoff_reason)

    def _record_alone(self, session_id: int, outcome: str, kb_entry: str | None,
                      handoff_reason: str | None = None, *, handoff: bool = False) -> None:
        with self._sessions() as db:
            self._record(db, session_id, outcome, kb_entry, handoff_reason, handoff=handoff)
            db.commit()

    def _ask_nps_in_session(self, session_id: int, trigger: str,
                            details: dict[str, Any]) -> list[dict[str, Any]]:
        with self._sessions() as db:
            session = db.get(ServiceSession, session_id)
            return [] if session is None else self._ask_nps(db, session, trigger, details)

    def _user_line(self, db: Session, line: _UserLine) -> tuple[dict[str, Any], int]:
        """A deferred user line (its row's values, not inserted) and its service session's id
        (touched or opened), in the caller's transaction. Built here, so a retried transaction
        builds it afresh."""
        session_id = self.tracker.current(db, line.conversation).id
        values = self._line_values(line.conversation.id, Sender.USER,
                                   {"type": MessageType.TEXT.value, "text": line.text},
                                   created_at=line.arrived_at, masked=line.masked)
        return values, session_id

    def _store_user_line(self, db: Session, line: _UserLine) -> tuple[int, int]:
        """`_user_line`, inserted: (line id, session id)."""
        values, session_id = self._user_line(db, line)
        return self._insert_lines(db, [values])[0], session_id

    def _store_user_line_alone(self, line: _UserLine) -> tuple[int, int]:
        with self._sessions() as db:
            ids = self._store_user_line(db, line)
            db.commit()
            return ids

    @staticmethod
    def _line_values(conversation_id: str, sender: str, msg: dict[str, Any],
                     outcome: str | None = None, *, created_at: datetime | None = None,
                     masked: str | None = None) -> dict[str, Any]:
        """The column values of one transcript line (text PII-masked; `masked`: the text
        masked already). Every line of one INSERT has the same keys."""
        payload = {k: v for k, v in msg.items() if k not in ("type", "text")} or None
        return {"conversation_id": conversation_id, "sender": sender,
                "type": msg.get("type", MessageType.TEXT.value),
                "text": masked if masked is not None else mask(msg.get("text", "")),
                "payload": payload, "outcome": outcome,
                "created_at": created_at or utcnow()}

    @staticmethod
    def _insert_lines(db: Session, values: list[dict[str, Any]]) -> list[int]:
        """Insert transcript lines in the session's transaction with one Core statement
        (insertmanyvalues: one round trip on PostgreSQL); their ids in the given order. The
        reply path only needs the ids: no ORM objects, no unit-of-work flush for them."""
        if not values:
            return []
        table = Message.__table__  # Core, not ORM bulk insert (that splits by None values)
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(db.scalars(stmt, values))

    def _finish(self, conversation_id: str, sender: str, messages: list[dict[str, Any]],
                outcome: str, kb_event: dict[str, Any] | None, session_id: int = 0,
                handoff_reason: str | None = None, line: _UserLine | None = None,
                ) -> tuple[list[dict[str, Any]], int | None, int]:
        """Store the reply's messages, the turn's KB event and the turn on the service session
        in one transaction (with a deferred user line first: the event points at it);
        returns the messages with their ids, the event's id and the service session's id."""
        with timing.span("finish"), self._sessions() as db:
            lines = []
            if line is not None:
                user_values, session_id = self._user_line(db, line)
                lines.append(user_values)
            if session_id:
                self._record(db, session_id, outcome,
                             kb_event.get("entry_id") if kb_event is not None else None,
                             handoff_reason, handoff=outcome == Outcome.HANDOFF)
            lines.extend(self._line_values(conversation_id, sender, msg, outcome)
                         for msg in messages)
            # the user line and the reply's lines in one INSERT (one round trip); the event
            # points at the line, so it goes in after
            ids = self._insert_lines(db, lines)
            if line is not None:
                user_id, ids = ids[0], ids[1:]
                if kb_event is not None:
                    kb_event = {**kb_event, "user_message_id": user_id}
            event_id = None
            if kb_event is not None:
                events = KBEvent.__table__
                event_id = db.scalar(insert(events).returning(events.c.id),
                                     {**kb_event, "created_at": utcnow()})
            stored = [{**msg, "id": row_id} for msg, row_id in zip(messages, ids, strict=True)]
            db.commit()  # flushes the service session's counters: one commit for the reply
            return stored, event_id, session_id

    async def handle(self, incoming: IncomingMessage) -> GatewayReply:
        """Store the user's message, get the bot's answer, store that, return it."""
        return await self.handle_admitted(lambda _db: incoming)

    async def handle_admitted(self, admit: Callable[[Session], IncomingMessage]) -> GatewayReply:
        """`handle` for a channel whose own checks (rate limits, identity: database and Redis
        calls, may raise a 4xx) build the message: `admit` runs in the same worker-thread hop
        and on the same database session as the turn's first database step. Each hop is a
        wake-up that waits for a core on a busy machine, and each session a connection
        checkout, so a turn makes as few as it can."""
        self._shed_if_overloaded()

        def first_step() -> tuple[IncomingMessage, _Begun]:
            with self._sessions() as db:
                with timing.span("admit"):
                    incoming = admit(db)
                with timing.span("begin"):
                    return incoming, with_db_retry(lambda: self._begin(incoming, db),
                                                   reset=db.rollback)

        with timing.span("first_step"):
            incoming, begun = await to_thread.run_sync(first_step)
        conv_id, state, user_row_id = begun.conversation_id, begun.state, begun.user_message_id
        session_id, language, line = begun.session_id, begun.language, begun.deferred
        if begun.reply is not None:
            if begun.language_changed:
                await self._tell_rasa_language_safely(conv_id, language, True)
            return begun.reply
        # human path: queued, with an agent, survey, leaving a message (or a stale button)
        if state != State.BOT or self.handoff.is_handoff_payload(incoming.text):
            human = await self.handoff.on_user_message(self._rasa, conv_id, incoming.text)
            if human is not None:
                return self.after_human(conv_id, human)
            # the human flow may just have ended a handoff: look again
            await self.handoff.ensure_resumed(self._rasa, conv_id)
        else:
            with timing.span("resume"):
                await self.handoff.resume_pending(self._rasa, conv_id, begun.paused_handoffs)
        # The gateway's own keys come last: a client can never set them.
        metadata = {**incoming.metadata, "user_id": incoming.user_id,
                    "channel": incoming.channel, "user_verified": incoming.verified,
                    "language": language}
        if self._bot_saturated():  # shed load: answer from the KB at once
            return await self._degraded(conv_id, incoming, user_row_id, session_id, language,
                                        f"busy: {self._rasa.inflight} bot turns in flight",
                                        line, begun.masked)
        try:
            with timing.span("language"):
                await self._tell_rasa_language(conv_id, language, begun.language_changed)
            # Rasa (and its tracker store) only ever sees the masked text: card and ID
            # numbers keep their last four characters, which is what the flows use.
            masked = begun.masked
            sent = time.monotonic()
            try:
                with timing.span("rasa"):
                    raw = await self._rasa.send(conv_id, masked, metadata)
            finally:  # given up at the budget counts as slow too
                self.bot_limit.record(time.monotonic() - sent)
        except RasaUnavailable as exc:
            logger.warning("bot unavailable for conversation %s, degraded reply: %s",
                           conv_id, exc)
            return await self._degraded(conv_id, incoming, user_row_id, session_id, language,
                                        str(exc), line, begun.masked)

        messages, meta = convert_rasa_messages(raw)
        outcome = str(meta.get("outcome") or DEFAULT_OUTCOME)
        details = {k: v for k, v in meta.items() if k != "outcome"}
        kb = meta.get("kb")
        kb_event = (dict(conversation_id=conv_id, user_message_id=user_row_id,
                         query=masked, outcome=outcome,
                         entry_id=kb.get("entry_id"), score=kb.get("score"),
                         release=kb.get("release"), details=meta)
                    if isinstance(kb, dict) else None)
        reason = (meta.get("handoff") or {}).get("reason")
        with timing.span("finish_step"):
            stored, event_id, session_id = await to_thread.run_sync(lambda: with_db_retry(
                lambda: self._finish(conv_id, Sender.BOT, messages, outcome, kb_event,
                                     session_id, reason, line)))
        if event_id is not None:
            details["kb_event_id"] = event_id
        if outcome == Outcome.HANDOFF:  # the bot asked for a human: queue (or take a message)
            human = await self.handoff.request(
                self._rasa, conv_id, meta.get("handoff") or {}, user_id=incoming.user_id,
                channel=incoming.channel)
            stored.extend(dict(m) for m in human.messages)
            details.update(human.details)
            outcome = human.outcome
            details.setdefault("language", language)
            return GatewayReply(conv_id, outcome, stored, details)
        if outcome not in (Outcome.FORM, Outcome.UNAVAILABLE) and (
                meta.get("end") == "goodbye" or is_closing(incoming.text)):
            trigger = "goodbye" if meta.get("end") == "goodbye" else "closing"
            stored.extend(await to_thread.run_sync(self._ask_nps_in_session, session_id,
                                                   trigger, details))
        details.setdefault("language", language)
        return GatewayReply(conv_id, outcome, stored, details)

    async def _tell_rasa_language(self, conversation_id: str, language: str,
                                  changed: bool) -> None:
        """Set Rasa's `language` slot (its responses have an English variation conditioned on
        it) when the conversation's language changed, and on every English turn (a tracker
        that missed the change, e.g. while Rasa was down, is corrected at the next one)."""
        if not changed and language != "en":
            return
        await self._rasa.append_events(
            conversation_id, [{"event": "slot", "name": "language", "value": language}])

    async def _tell_rasa_language_safely(self, conversation_id: str, language: str,
                                         changed: bool) -> None:
        """The same after a reply the gateway gave itself: Rasa down must not fail it (the
        next bot turn sets the slot again)."""
        try:
            await self._tell_rasa_language(conversation_id, language, changed)
        except RasaUnavailable as exc:
            logger.warning("language slot not set for %s: %s", conversation_id, exc)

    async def _degraded(self, conv_id: str, incoming: IncomingMessage, user_row_id: int,
                        session_id: int, language: str, reason: str,
                        line: _UserLine | None = None, masked: str = "") -> GatewayReply:
        """Answer without the bot: KB questions from the KB, a human on request, else a
        "briefly limited" notice with a human offer. Everything is stored as usual (a
        deferred user line with the reply)."""
        self.degraded_inflight += 1
        try:
            return await self._degraded_turn(conv_id, incoming, user_row_id, session_id,
                                             language, reason, line, masked)
        finally:
            self.degraded_inflight -= 1

    async def _degraded_turn(self, conv_id: str, incoming: IncomingMessage, user_row_id: int,
                             session_id: int, language: str, reason: str,
                             line: _UserLine | None = None, masked: str = "") -> GatewayReply:
        text = incoming.text.strip()
        if text == degraded.HUMAN_PAYLOAD:
            if line is not None:  # the desk reads the transcript: the line goes first
                user_row_id, session_id = await to_thread.run_sync(lambda: with_db_retry(
                    lambda: self._store_user_line_alone(line)))
            human = await self.handoff.request(
                self._rasa, conv_id, {"reason": "requested"}, user_id=incoming.user_id,
                channel=incoming.channel)
            await to_thread.run_sync(lambda: self._record_alone(
                session_id, Outcome.HANDOFF, None, "requested", handoff=True))
            reply = self.after_human(conv_id, human)
            reply.details = {**reply.details, "degraded": True, "degraded_reason": reason}
            return reply
        turn = await self._kb_turn(text, incoming.channel, reason, language)
        kb_event = (dict(conversation_id=conv_id, user_message_id=user_row_id,
                         query=masked or mask(incoming.text), outcome=turn.outcome,
                         entry_id=turn.kb.get("entry_id"), score=turn.kb.get("score"),
                         release=turn.kb.get("release"),
                         details={"outcome": turn.outcome, **turn.details})
                    if turn.kb is not None else None)
        sender = Sender.SYSTEM if turn.outcome == Outcome.UNAVAILABLE else Sender.BOT
        stored, event_id, _ = await to_thread.run_sync(lambda: with_db_retry(lambda: self._finish(
            conv_id, sender, turn.messages, turn.outcome, kb_event, session_id, line=line)))
        details = {**turn.details, "language": language}
        if event_id is not None:
            details["kb_event_id"] = event_id
        return GatewayReply(conv_id, turn.outcome, stored, details)

    async def _kb_turn(self, text: str, channel: str, reason: str,
                       lang: str = "zh") -> degraded.DegradedTurn:
        if self.kb is None:
            return degraded.unavailable(reason, lang)
        entry_id = degraded.picked_entry(text)
        if entry_id is None and (not text or text.startswith("/")):
            # another button (forms, confirmations): bot only
            return degraded.limited(reason, lang=lang)
        try:
            if entry_id is not None:
                result = await to_thread.run_sync(
                    lambda: self.kb.search(entry_id=entry_id, channel=channel))  # type: ignore[union-attr]
            else:
                result = await to_thread.run_sync(
                    lambda: self.kb.search(text, channel=channel))  # type: ignore[union-attr]
        except (KBNotReady, UnknownEntry) as exc:
            logger.error("degraded reply without the KB: %r", exc)
            return degraded.unavailable(reason, lang)
        return degraded.from_kb(result, picked=entry_id is not None, reason=reason, lang=lang)

    # ---- NPS at the end of a session

    def _nps_answer(self, db: Session, conversation_id: str, text: str) -> GatewayReply | None:
        pending = self.nps.pending(db, conversation_id)
        if pending is None:  # (an expired question marked ignored): the caller's commit
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
        msg = nps_question(self.nps.language(db, session.conversation_id))
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
