"""RedisHub: two hubs (two API replicas) on one Redis channel deliver each other's events.

Needs Redis on 127.0.0.1:6379 (db 3 here, a channel unique to the run); skipped otherwise.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from api.handoff.hub import RedisHub, conversation_topic

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/3")


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


pytestmark = pytest.mark.skipif(not _redis_up(), reason=f"Redis not reachable at {REDIS_URL}")


async def _two_hubs() -> tuple[RedisHub, RedisHub]:
    channel = f"test-hub-{uuid.uuid4().hex}"
    a, b = RedisHub(REDIS_URL, channel), RedisHub(REDIS_URL, channel)
    for hub in (a, b):
        await hub.start()
        await asyncio.wait_for(hub.connected.wait(), 5)
    return a, b


def test_an_event_published_on_one_replica_reaches_a_socket_on_the_other() -> None:
    async def scenario() -> None:
        a, b = await _two_hubs()
        try:
            topic = conversation_topic("c-1")
            on_b = b.subscribe(topic)
            on_a_other = a.subscribe(conversation_topic("c-2"))
            a.publish(topic, {"type": "message", "n": 1})
            # from a worker thread too (service code publishes after commit in the threadpool)
            await asyncio.to_thread(a.publish, topic, {"type": "message", "n": 2})
            got = [await asyncio.wait_for(on_b.get(), 5) for _ in range(2)]
            assert [e["n"] for e in got] == [1, 2]
            assert on_a_other.queue.empty()
            assert a.subscribers(topic) == 1  # unknown across replicas: "maybe"
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(scenario())


def test_redis_down_still_delivers_on_this_replica() -> None:
    async def scenario() -> None:
        hub = RedisHub("redis://127.0.0.1:1/0", f"test-hub-{uuid.uuid4().hex}")
        await hub.start()
        try:
            sub = hub.subscribe("staff")
            hub.publish("staff", {"type": "queue", "size": 1})
            assert (await asyncio.wait_for(sub.get(), 5))["size"] == 1
        finally:
            await hub.stop()

    asyncio.run(scenario())
