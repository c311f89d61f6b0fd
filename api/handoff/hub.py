"""In-process pub/sub that fans handoff events out to WebSocket connections.

Topics: `conv:<conversation_id>` (the cardholder's widget) and `staff` (every agent console).
This hub lives in one process, which is right for the single-process default (`make run`
starts one API worker). Several API workers would each see only their own sockets: put a
shared broker (e.g. Redis pub/sub or PostgreSQL LISTEN/NOTIFY) behind `publish` then.

`publish` is thread-safe: service code running in the threadpool hands events to the event
loop with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

logger = logging.getLogger(__name__)

STAFF = "staff"
MAX_PENDING = 500  # per subscriber; a stuck socket is dropped rather than growing memory


def conversation_topic(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


class Subscription:
    """One subscriber's inbox on one or more topics."""

    def __init__(self, hub: Hub, topics: tuple[str, ...]) -> None:
        self.hub = hub
        self.topics = topics
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(MAX_PENDING)
        self.overflowed = False

    def _deliver(self, event: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            logger.warning("dropping events for a slow WebSocket subscriber on %s", self.topics)

    async def get(self) -> dict[str, Any]:
        return await self.queue.get()

    def close(self) -> None:
        self.hub.unsubscribe(self)


class Hub:
    """Topic -> subscribers, delivering on the event loop that subscribed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, set[Subscription]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self, *topics: str) -> Subscription:
        """Subscribe (call from the event loop)."""
        self._loop = asyncio.get_running_loop()
        sub = Subscription(self, topics)
        with self._lock:
            for topic in topics:
                self._subs.setdefault(topic, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            for topic in sub.topics:
                subs = self._subs.get(topic)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._subs[topic]

    def subscribers(self, topic: str) -> int:
        with self._lock:
            return len(self._subs.get(topic, ()))

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Deliver `event` to the topic's subscribers; safe from any thread; never raises."""
        with self._lock:
            subs = list(self._subs.get(topic, ()))
        if not subs or self._loop is None or self._loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for sub in subs:
            if running is self._loop:
                sub._deliver(event)
            else:
                self._loop.call_soon_threadsafe(sub._deliver, event)
