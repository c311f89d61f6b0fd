"""Per-channel outboxes: how messages produced outside a cardholder's own request reach them.

The web widget gets agent messages over its WebSocket. Channels without an open connection
(WeChat) must push them through the platform's API. Code that produces such messages (human
handoff: agent replies, queue position updates, the closing survey) calls

    app.state.outboxes.publish(conversation.channel, Outbound(conversation.id,
                               conversation.user_id, [{"type": "text", "text": "…"}], "agent"))

`publish` is non-blocking and thread-safe (it may be called from the threadpool); it returns
False when the channel has no outbox (e.g. web), so callers need no per-channel knowledge.
Deliveries run on the event loop; each channel keeps them in order per cardholder.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outbound:
    """Messages for one cardholder, in the gateway's message format ({"type", "text", …})."""

    conversation_id: str
    user_id: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    source: str = "agent"  # agent | system


class ChannelOutbox(Protocol):
    """A channel that can push messages to a cardholder on its own initiative."""

    async def deliver(self, outbound: Outbound) -> str:
        """Deliver in order; returns a delivery status (e.g. sent / undeliverable / failed)."""
        ...


class OutboxRegistry:
    """channel name -> outbox; lives on app.state.outboxes."""

    def __init__(self) -> None:
        self._outboxes: dict[str, ChannelOutbox] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[asyncio.Task[Any]] = set()

    def register(self, channel: str, outbox: ChannelOutbox) -> None:
        """Register a channel's outbox (call from the event loop, e.g. in the lifespan)."""
        self._loop = asyncio.get_running_loop()
        self._outboxes[channel] = outbox

    def handles(self, channel: str) -> bool:
        return channel in self._outboxes

    def publish(self, channel: str, outbound: Outbound) -> bool:
        """Schedule delivery; safe from any thread, never blocks, never raises."""
        outbox = self._outboxes.get(channel)
        loop = self._loop
        if outbox is None or loop is None or loop.is_closed():
            return False
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._spawn(outbox, outbound)
        else:
            loop.call_soon_threadsafe(self._spawn, outbox, outbound)
        return True

    async def deliver(self, channel: str, outbound: Outbound) -> str | None:
        """Deliver now and return the status (None: the channel has no outbox)."""
        outbox = self._outboxes.get(channel)
        if outbox is None:
            return None
        return await outbox.deliver(outbound)

    def _spawn(self, outbox: ChannelOutbox, outbound: Outbound) -> None:
        task = asyncio.get_running_loop().create_task(self._run(outbox, outbound))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    @staticmethod
    async def _run(outbox: ChannelOutbox, outbound: Outbound) -> None:
        try:
            await outbox.deliver(outbound)
        except Exception:  # a failed push must never take the publisher down
            logger.exception("outbox delivery failed for conversation %s",
                             outbound.conversation_id)

    async def aclose(self, timeout: float = 10.0) -> None:
        """Let pending deliveries finish (up to timeout), then cancel the rest."""
        if self._pending:
            _done, pending = await asyncio.wait(set(self._pending), timeout=timeout)
            for task in pending:
                task.cancel()
