"""WeChat channel logic: exactly-once processing, the 5-second rule, rendering and delivery.

WeChat waits 5 s for the passive reply, then drops the connection and retries (3 tries in all).
So a message is answered passively only if the bot is faster than WECHAT_PASSIVE_TIMEOUT_SECONDS
(4.5 s); otherwise the request gets `success` at once and the answer is pushed through the
customer-service API when it is ready.

Exactly once: the first request of a MsgId (events: OpenID + CreateTime) inserts a row with a
unique key and starts the bot in a task; any retry fails that insert. A retry that arrives while
the bot is still running in this process joins it: the newest request is the one WeChat still
waits for, so it takes over the right to answer passively and earlier requests reply `success`.
Whichever way the answer goes out (one passive reply, or the API), it goes out once.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.channels.outbox import Outbound
from api.channels.relay import HandoffRelay
from api.channels.wechat import texts
from api.channels.wechat.client import OutsideServiceWindow, WeChatApiClient, WeChatApiError
from api.channels.wechat.crypto import MessageCrypto
from api.channels.wechat.render import (
    OutMessage,
    Rendered,
    custom_payload,
    pick_option,
    render_messages,
)
from api.channels.wechat.xmlmsg import OPENID_RE, WeChatInbound, news_reply, text_reply
from api.conversation import degraded
from api.conversation.gateway import APOLOGY, Gateway, IncomingMessage
from api.core.config import Settings
from api.models import Conversation, WeChatOutbound, WeChatPendingOptions, utcnow
from api.models import WeChatInbound as InboundRow
from vocab import State
from vocab.language import as_language, next_language

logger = logging.getLogger(__name__)

CHANNEL = "wechat"
# After the bot answered, how long the request that may reply passively gets to claim it;
# only matters if that request vanished (then the answer goes through the API instead).
CLAIM_GRACE_SECONDS = 1.0
# How long a finished message stays joinable in memory (the DB row dedupes after that).
INFLIGHT_KEEP_SECONDS = 60.0
PURGE_EVERY_SECONDS = 3600.0


def openid_hash(openid: str) -> str:
    """How an OpenID appears in logs."""
    return "wx#" + hashlib.sha256(f"wechat:{openid}".encode()).hexdigest()[:12]


@dataclass
class Reply:
    """What the HTTP handler sends: a passive message (None: `success`) and what follows."""

    passive: OutMessage | None = None
    followups: list[OutMessage] = field(default_factory=list)
    conversation_id: str | None = None


class _InFlight:
    """One message whose bot answer is being computed, and who may answer it passively."""

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.resolved = asyncio.Event()
        self.result: Rendered | None = None
        self.conversation_id: str | None = None
        self.mode = "pending"  # pending -> passive | async
        self.owner = 0
        self.owner_changed = asyncio.Event()

    def decide(self, mode: str) -> bool:
        """Settle passive vs async once; True if this call settled it to `mode`."""
        if self.mode != "pending":
            return False
        self.mode = mode
        self.resolved.set()
        return True

    def take_over(self, token: int) -> None:
        """Make `token` the request allowed to answer; wake the previous owner."""
        self.owner = token
        previous, self.owner_changed = self.owner_changed, asyncio.Event()
        previous.set()


class WeChatService:
    """The WeChat channel: used by the router per request and by handoff as an outbox."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], gateway: Gateway,
                 api: WeChatApiClient, menu: dict[str, str]) -> None:
        self.settings = settings
        keys = [settings.wechat_aes_key]
        if settings.wechat_aes_key_previous:
            keys.append(settings.wechat_aes_key_previous)
        self.crypto = MessageCrypto(settings.wechat_token, settings.wechat_app_id, keys)
        self.api = api
        self.menu = menu
        self._sessions = sessions
        self._gateway = gateway
        self._inflight: dict[str, _InFlight] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())
        self._tokens = itertools.count(1)
        self._last_purge = 0.0
        # Set when the app has a handoff desk: relays agent messages to WeChat users.
        self.relay: HandoffRelay | None = None

    # ---- inbound -------------------------------------------------------------------------

    async def respond(self, inbound: WeChatInbound, received_at: float | None = None) -> Reply:
        """Process a verified callback once and decide how it is answered.

        `received_at` (time.monotonic() when the request arrived) starts the passive budget.
        """
        start = time.monotonic() if received_at is None else received_at
        deadline = start + self.settings.wechat_passive_timeout_seconds
        kind, text = self._classify(inbound)
        key = inbound.dedupe_key
        joined = self._inflight.get(key)
        if joined is not None:
            logger.info("WeChat retry of %s from %s joins the running answer",
                        inbound.msg_type, openid_hash(inbound.from_user))
            return await self._await_passive(joined, deadline)
        if not self._claim(inbound):
            logger.info("WeChat retry of %s from %s was already handled; replying success",
                        inbound.msg_type, openid_hash(inbound.from_user))
            return Reply()
        logger.info("WeChat %s%s from %s", inbound.msg_type,
                    f"/{inbound.event}" if inbound.event else "", openid_hash(inbound.from_user))
        if kind == "static":
            self._finish(key, "done", "passive")
            return Reply(OutMessage("text", text))
        if kind == "silent":
            if inbound.event == "unsubscribe":
                self._save_options(inbound.from_user, [])
            self._finish(key, "done", "none")
            return Reply()
        inflight = _InFlight()
        self._inflight[key] = inflight
        task = asyncio.get_running_loop().create_task(self._run_bot(inbound, text, inflight))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await self._await_passive(inflight, deadline)

    def _classify(self, inbound: WeChatInbound) -> tuple[str, str]:
        """("bot", text for the gateway) | ("static", reply text) | ("silent", "").

        The channel's own replies are in the user's conversation language (Chinese for a
        user we have no conversation with yet); a too-long message is answered in the
        language it is written in.
        """
        msg_type = inbound.msg_type
        if msg_type in ("text", "voice"):
            if msg_type == "voice" and not inbound.recognition:
                return "static", texts.text("voice_not_recognised", self._language(inbound))
            text = (inbound.content if msg_type == "text" else inbound.recognition or "").strip()
            if not text:
                return "static", texts.text("empty_text", self._language(inbound))
            if len(text) > self.settings.max_message_chars:
                lang = next_language(self._language(inbound), text)
                return "static", texts.text("too_long", lang,
                                            max_chars=self.settings.max_message_chars)
            return "bot", text
        if msg_type == "event":
            if inbound.event == "subscribe":
                return "static", texts.text("welcome", self._language(inbound))
            if inbound.event == "click":
                payload = self.menu.get(inbound.event_key)
                if payload:
                    return "bot", payload
                logger.warning("WeChat menu key %r is not configured", inbound.event_key[:64])
                return "static", texts.text("menu_unavailable", self._language(inbound))
            return "silent", ""  # unsubscribe (recorded), VIEW, SCAN, LOCATION, …
        return "static", texts.unsupported(msg_type, self._language(inbound))

    def _apology(self, inbound: WeChatInbound) -> str:
        """The answer when the turn failed, in the user's language when that can be read."""
        try:
            return degraded.TEXTS.text("kb_down", self._language(inbound))
        except Exception:  # the failure may be the database itself: Chinese, the default
            return APOLOGY

    def _language(self, inbound: WeChatInbound) -> str:
        """The reply language of this user's conversation (zh when there is none yet)."""
        with self._sessions() as db:
            language = db.scalars(select(Conversation.language).where(
                Conversation.channel == CHANNEL,
                Conversation.user_id == inbound.from_user)).first()
        return as_language(language)

    async def _await_passive(self, inflight: _InFlight, deadline: float) -> Reply:
        """Wait until `deadline` (monotonic) for the answer; reply it passively if still ours."""
        loop = asyncio.get_running_loop()
        if inflight.mode != "pending":
            return Reply()  # answered already, or going out through the API
        token = next(self._tokens)
        inflight.take_over(token)
        mine = inflight.owner_changed
        while True:
            if inflight.owner != token:
                return Reply()  # a newer retry answers
            if inflight.done.is_set():
                result = inflight.result
                if result is None or not inflight.decide("passive") or not result.messages:
                    return Reply(conversation_id=inflight.conversation_id)
                first, *rest = result.messages
                return Reply(first, rest, inflight.conversation_id)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                inflight.decide("async")
                return Reply()
            waiters = [loop.create_task(inflight.done.wait()), loop.create_task(mine.wait())]
            try:
                await asyncio.wait(waiters, timeout=remaining,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    async def _run_bot(self, inbound: WeChatInbound, text: str, inflight: _InFlight) -> None:
        openid = inbound.from_user
        key = inbound.dedupe_key
        status = "done"
        conversation_id: str | None = None
        try:
            picked = pick_option(text, self._load_options(openid))
            incoming = IncomingMessage(
                channel=CHANNEL, user_id=openid, text=picked["payload"] if picked else text,
                metadata={"wechat_msg_type": inbound.msg_type},
                verified=True)  # the openid comes from a signature-checked WeChat callback
            reply = await self._gateway.handle(incoming)
            conversation_id = reply.conversation_id
            self._follow_desk(conversation_id, openid, reply.details)
            rendered = render_messages(reply.messages, self.settings.wechat_text_max_bytes,
                                       self.settings.wechat_max_messages_per_turn,
                                       str(reply.details.get("language") or "zh"))
            self._save_options(openid, rendered.options)
        except Exception:
            logger.exception("WeChat message from %s failed", openid_hash(openid))
            rendered = Rendered([OutMessage("text", self._apology(inbound))])
            status = "failed"
        inflight.result, inflight.conversation_id = rendered, conversation_id
        inflight.done.set()
        try:
            await asyncio.wait_for(inflight.resolved.wait(), CLAIM_GRACE_SECONDS)
        except TimeoutError:
            inflight.decide("async")
        try:
            if inflight.mode == "async":
                delivery = (await self.send(openid, conversation_id, rendered.messages, "bot")
                            if rendered.messages else "none")
            else:
                delivery = "passive" if rendered.messages else "none"
            self._finish(key, status, delivery, conversation_id)
        except Exception:
            logger.exception("delivering the answer to %s failed", openid_hash(openid))
        finally:
            asyncio.get_running_loop().call_later(INFLIGHT_KEEP_SECONDS, self._inflight.pop,
                                                  key, None)

    def _follow_desk(self, conversation_id: str, openid: str, details: dict[str, Any]) -> None:
        """While a human desk owns the conversation, relay its messages to this user."""
        if self.relay is None or self.relay.following(conversation_id):
            return
        try:
            with self._sessions() as db:
                conv = db.get(Conversation, conversation_id)
                state = conv.state if conv is not None else State.BOT
            if state != State.BOT:
                queue = details.get("queue")
                position = queue.get("position") if isinstance(queue, dict) else None
                self.relay.follow(conversation_id, CHANNEL, openid,
                                  position if isinstance(position, int) else None)
        except Exception:  # the answer itself must still go out
            logger.exception("could not follow conversation %s for the desk", conversation_id)

    def passive_xml(self, inbound: WeChatInbound, msg: OutMessage) -> str:
        """The passive reply XML (plaintext; the router encrypts it in safe mode)."""
        now = int(time.time())
        if msg.kind == "news" and msg.article is not None:
            return news_reply(inbound.from_user, inbound.to_user, [msg.article.as_dict()], now)
        return text_reply(inbound.from_user, inbound.to_user, msg.text, now)

    # ---- outbound ------------------------------------------------------------------------

    async def send(self, openid: str, conversation_id: str | None, messages: list[OutMessage],
                   source: str) -> str:
        """Push messages through the customer-service API, in order, stopping at a failure.

        Returns customer_service (all sent), undeliverable (45015: outside the 48-hour
        window; not retried) or failed. Every attempt is recorded in wechat_outbound.
        """
        lock = self._locks.get(openid)
        if lock is None:
            lock = self._locks[openid] = asyncio.Lock()
        async with lock:
            for msg in messages:
                try:
                    await self.api.send_custom(custom_payload(openid, msg))
                except OutsideServiceWindow as exc:
                    logger.warning("WeChat user %s is outside the 48-hour window (45015); "
                                   "message marked undeliverable", openid_hash(openid))
                    self._record(openid, conversation_id, source, msg.kind, "undeliverable",
                                 exc.errcode)
                    return "undeliverable"
                except WeChatApiError as exc:
                    logger.error("WeChat customer-service send to %s failed: %s",
                                 openid_hash(openid), exc)
                    self._record(openid, conversation_id, source, msg.kind, "failed",
                                 exc.errcode)
                    return "failed"
                self._record(openid, conversation_id, source, msg.kind, "sent", None)
        return "customer_service"

    async def send_followups(self, openid: str, conversation_id: str | None,
                             messages: list[OutMessage]) -> None:
        """After a passive reply went out: the rest of the answer through the API."""
        try:
            await self.send(openid, conversation_id, messages, "bot")
        except Exception:
            logger.exception("sending the rest of an answer to %s failed", openid_hash(openid))

    async def deliver(self, outbound: Outbound) -> str:
        """Outbox entry point (handoff): agent messages and queue updates for a WeChat user."""
        if not OPENID_RE.match(outbound.user_id):
            logger.error("cannot deliver to WeChat conversation %s: user id is not an OpenID",
                         outbound.conversation_id)
            return "failed"
        with self._sessions() as db:
            conv = db.get(Conversation, outbound.conversation_id)
            lang = "en" if conv is not None and conv.language == "en" else "zh"
        rendered = render_messages(outbound.messages, self.settings.wechat_text_max_bytes,
                                   self.settings.wechat_max_messages_per_turn, lang)
        if outbound.source != "queue":  # a new desk message supersedes older numbered options
            self._save_options(outbound.user_id, rendered.options)
        if not rendered.messages:
            return "none"
        return await self.send(outbound.user_id, outbound.conversation_id, rendered.messages,
                               outbound.source)

    async def aclose(self) -> None:
        """Let running answers finish briefly, then close the API client."""
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=10)
            for task in pending:
                task.cancel()
        await self.api.aclose()

    # ---- storage -------------------------------------------------------------------------

    def _claim(self, inbound: WeChatInbound) -> bool:
        """Insert the dedupe row; False if this message was seen before (by any process)."""
        self._maybe_purge()
        row = InboundRow(dedupe_key=inbound.dedupe_key, openid=inbound.from_user,
                         msg_type=inbound.msg_type, event=inbound.event or None)
        with self._sessions() as db:
            db.add(row)
            try:
                db.commit()
            except IntegrityError:
                db.rollback()
                return False
        return True

    def _finish(self, key: str, status: str, delivery: str,
                conversation_id: str | None = None) -> None:
        with self._sessions() as db:
            db.execute(update(InboundRow).where(InboundRow.dedupe_key == key).values(
                status=status, delivery=delivery, conversation_id=conversation_id,
                updated_at=utcnow()))
            db.commit()

    def _load_options(self, openid: str) -> list[dict[str, str]]:
        with self._sessions() as db:
            row = db.get(WeChatPendingOptions, openid)
            if row is None:
                return []
            created = row.created_at
            if created.tzinfo is None:
                created = created.replace(tzinfo=timezone.utc)
            age = (utcnow() - created).total_seconds()
            return list(row.options) if age <= self.settings.wechat_options_ttl_seconds else []

    def _save_options(self, openid: str, options: list[dict[str, str]]) -> None:
        """Remember the numbered options of the last answer (none: forget the old ones)."""
        with self._sessions() as db:
            row = db.get(WeChatPendingOptions, openid)
            if options:
                if row is None:
                    db.add(WeChatPendingOptions(openid=openid, options=options))
                else:
                    row.options, row.created_at = options, utcnow()
            elif row is not None:
                db.delete(row)
            try:
                db.commit()
            except IntegrityError:  # a concurrent turn of the same user saved first
                db.rollback()

    def _record(self, openid: str, conversation_id: str | None, source: str, msgtype: str,
                status: str, errcode: int | None) -> None:
        with self._sessions() as db:
            db.add(WeChatOutbound(openid=openid, conversation_id=conversation_id, source=source,
                                  msgtype=msgtype, status=status, errcode=errcode))
            db.commit()

    def _maybe_purge(self) -> None:
        now = time.monotonic()
        if self._last_purge and now - self._last_purge < PURGE_EVERY_SECONDS:
            return
        self._last_purge = now
        cutoff = datetime.now(timezone.utc) - timedelta(
            hours=self.settings.wechat_dedupe_retention_hours)
        options_cutoff = datetime.now(timezone.utc) - timedelta(
            seconds=self.settings.wechat_options_ttl_seconds)
        with self._sessions() as db:
            db.execute(delete(InboundRow).where(InboundRow.created_at < cutoff))
            db.execute(delete(WeChatPendingOptions)
                       .where(WeChatPendingOptions.created_at < options_cutoff))
            db.commit()
