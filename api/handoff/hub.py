"""In-process pub/sub that fans handoff events out to WebSocket connections.

Topics: `conv:<conversation_id>` (the cardholder's widget) and `staff` (every agent console).
`Hub` lives in one process, which is right for the single-process default (`make run` starts
one API worker). Several API replicas use `RedisHub` (`HUB_REDIS_URL`): the same interface
with Redis pub/sub behind `publish`.

`publish` is thread-safe: service code running in the threadpool hands events to the event
loop with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import json
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


class RedisHub(Hub):
    """The hub across API replicas (production mode, `HUB_REDIS_URL`): every event goes through
    one Redis pub/sub channel and each replica delivers it to its own WebSocket subscribers, so
    an agent's message reaches a cardholder whose socket is on another replica.

    `publish` stays synchronous and thread-safe: it hands the event to one publisher task on the
    event loop (one task, so events keep their order). While Redis is unreachable an event is
    delivered locally (this replica's sockets still get it) and the listener reconnects every
    second. Subscriber counts are per replica, so `subscribers` answers "maybe" (1): the desk
    then sends queue positions to every waiting cardholder, wherever their socket is.
    """

    def __init__(self, url: str, channel: str = "cardbot:hub", max_outbox: int = 10_000) -> None:
        super().__init__()
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url)
        self._channel = channel
        self._max_outbox = max_outbox
        self._outbox: asyncio.Queue[tuple[str, str, dict[str, Any]]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.connected = asyncio.Event()

    async def start(self) -> None:
        """Start the publisher and the listener (call from the event loop, at startup)."""
        self._loop = asyncio.get_running_loop()
        self._outbox = asyncio.Queue(self._max_outbox)
        self._tasks = [asyncio.create_task(self._publisher()),
                       asyncio.create_task(self._listener())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._redis.aclose()

    def subscribers(self, topic: str) -> int:
        return 1

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            data = json.dumps({"topic": topic, "event": event}, ensure_ascii=False)
        except (TypeError, ValueError):
            logger.exception("hub event for %s is not JSON; delivered on this replica only",
                             topic)
            super().publish(topic, event)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._enqueue(data, topic, event)
        else:
            loop.call_soon_threadsafe(self._enqueue, data, topic, event)

    def _enqueue(self, data: str, topic: str, event: dict[str, Any]) -> None:
        assert self._outbox is not None
        try:
            self._outbox.put_nowait((data, topic, event))
        except asyncio.QueueFull:
            logger.warning("hub outbox full: event for %s delivered on this replica only", topic)
            super().publish(topic, event)

    async def _publisher(self) -> None:
        from redis.exceptions import RedisError

        assert self._outbox is not None
        while True:
            data, topic, event = await self._outbox.get()
            try:
                await self._redis.publish(self._channel, data)
            except (RedisError, OSError) as exc:
                logger.error("Redis publish failed (%s): event for %s delivered on this "
                             "replica only", type(exc).__name__, topic)
                super().publish(topic, event)

    async def _listener(self) -> None:
        from redis.exceptions import RedisError

        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self.connected.set()
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        try:
                            item = json.loads(message["data"])
                            super().publish(str(item["topic"]), item["event"])
                        except (ValueError, KeyError, TypeError):
                            logger.warning("ignoring a malformed hub message")
            except (RedisError, OSError) as exc:
                self.connected.clear()
                logger.error("Redis hub listener: %s; reconnecting in 1 s", type(exc).__name__)
                await asyncio.sleep(1)
