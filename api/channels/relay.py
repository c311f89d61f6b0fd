"""Relay the human desk's messages to cardholders whose channel has no live connection.

The handoff service publishes what the cardholder should see (agent messages, "人工客服 N 号为您
服务", the survey, queue positions, state changes) on the hub topic `conv:<conversation_id>`;
the web widget reads it over its WebSocket. For a channel with an outbox (WeChat) the relay
subscribes to that topic while the conversation is with the desk and hands each event to the
channel's outbox, so the handoff code needs no per-channel logic.

Queue positions are only relayed when they improve (each push spends platform quota); the
relay stops following when the conversation is back with the bot.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.channels.outbox import Outbound, OutboxRegistry
from api.handoff.hub import Hub, Subscription, conversation_topic
from api.models import Conversation
from vocab import State

logger = logging.getLogger(__name__)

QUEUE_NOTICE = ("排队进度：您当前排在第 {position} 位，预计等待约 {minutes} 分钟。"
                "如需退出排队，请回复“取消排队”。")


def as_gateway_message(message: dict[str, Any]) -> dict[str, Any]:
    """A transcript line from the hub in the gateway's message format."""
    buttons = message.get("buttons") or []
    out: dict[str, Any] = {"type": "buttons" if buttons else "text",
                           "text": str(message.get("text") or "")}
    if buttons:
        out["buttons"] = buttons
    return out


class HandoffRelay:
    """Follows conversations of outbox channels while the desk owns them."""

    def __init__(self, hub: Hub, outboxes: OutboxRegistry,
                 sessions: sessionmaker[Session]) -> None:
        self._hub = hub
        self._outboxes = outboxes
        self._sessions = sessions
        self._following: dict[str, asyncio.Task[None]] = {}

    def following(self, conversation_id: str) -> bool:
        return conversation_id in self._following

    def follow(self, conversation_id: str, channel: str, user_id: str,
               position: int | None = None) -> bool:
        """Start relaying a conversation (idempotent; call on the event loop)."""
        if conversation_id in self._following or not self._outboxes.handles(channel):
            return False
        sub = self._hub.subscribe(conversation_topic(conversation_id))
        task = asyncio.get_running_loop().create_task(
            self._pump(sub, conversation_id, channel, user_id, position))
        self._following[conversation_id] = task
        task.add_done_callback(lambda _t: self._following.pop(conversation_id, None))
        logger.info("relaying the desk's messages of conversation %s to %s",
                    conversation_id, channel)
        return True

    def resume(self) -> int:
        """After a restart: follow every conversation of an outbox channel not with the bot."""
        with self._sessions() as db:
            rows = db.execute(select(Conversation.id, Conversation.channel,
                                     Conversation.user_id)
                              .where(Conversation.state != State.BOT)).all()
        return sum(self.follow(cid, channel, user_id) for cid, channel, user_id in rows)

    async def _pump(self, sub: Subscription, conversation_id: str, channel: str, user_id: str,
                    position: int | None) -> None:
        try:
            while True:
                event = await sub.get()
                kind = event.get("type")
                if kind == "state" and event.get("state") == State.BOT:
                    return
                try:
                    position = await self._relay(event, conversation_id, channel, user_id,
                                                 position)
                except Exception:  # one failed push must not end the relay
                    logger.exception("relaying a %s event of conversation %s failed", kind,
                                     conversation_id)
        finally:
            sub.close()

    async def _relay(self, event: dict[str, Any], conversation_id: str, channel: str,
                     user_id: str, position: int | None) -> int | None:
        """Hand one hub event to the outbox; returns the queue position now known."""
        kind = event.get("type")
        if kind == "message":
            message = event.get("message") or {}
            await self._outboxes.deliver(channel, Outbound(
                conversation_id, user_id, [as_gateway_message(message)],
                source="agent" if message.get("sender") == "agent" else "system"))
        elif kind == "queue":
            info = event.get("queue") or {}
            new = info.get("position")
            if isinstance(new, int):
                if position is not None and new < position:  # only good news is pushed
                    minutes = max(1, round(int(info.get("estimated_wait_seconds") or 0) / 60))
                    text = QUEUE_NOTICE.format(position=new, minutes=minutes)
                    await self._outboxes.deliver(channel, Outbound(
                        conversation_id, user_id, [{"type": "text", "text": text}],
                        source="queue"))
                return new
        elif kind == "state":
            queue = event.get("queue") or {}
            if event.get("state") != State.QUEUED:
                return None
            if isinstance(queue.get("position"), int):
                return int(queue["position"])
        return position

    async def aclose(self) -> None:
        tasks = list(self._following.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
