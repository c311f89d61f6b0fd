"""Publish -> bot: reloads coalesce, and a request awaits the swap (no polling, bounded)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from knowledge_base.search.reloader import Reloader


class SwappingService:
    """Stands in for KnowledgeService: each reload takes `delay` seconds, then swaps."""

    def __init__(self, release: int, delay: float) -> None:
        self.snapshot: Any = SimpleNamespace(release=release)
        self.delay = delay
        self.closed = False
        self.reloads = 0
        self.next_release = release
        self._listeners: list[Callable[[Any], None]] = []

    def add_swap_listener(self, listener: Callable[[Any], None]) -> None:
        self._listeners.append(listener)

    def reload(self, stale: Callable[[], bool] | None = None) -> Any:
        time.sleep(self.delay)
        self.reloads += 1
        self.snapshot = SimpleNamespace(release=self.next_release)
        for listener in self._listeners:
            listener(self.snapshot)
        return self.snapshot

    def status(self) -> dict[str, str]:
        return {"state": "up"}


def test_activate_returns_as_soon_as_the_release_is_served() -> None:
    kb = SwappingService(release=1, delay=0.2)
    reloader = Reloader(kb)  # type: ignore[arg-type]
    kb.next_release = 2
    started = time.monotonic()
    served = asyncio.run(reloader.activate(2, timeout=10))
    assert served == 2
    assert time.monotonic() - started < 5  # woken by the swap, not by the timeout
    reloader.stop()


def test_a_slow_swap_ends_the_wait_at_the_timeout_and_finishes_in_the_background() -> None:
    kb = SwappingService(release=1, delay=1.0)
    reloader = Reloader(kb)  # type: ignore[arg-type]
    kb.next_release = 2
    assert asyncio.run(reloader.activate(2, timeout=0.1)) == 1
    reloader.stop()
    assert kb.snapshot.release == 2 and not reloader.reloading
    assert reloader._waiters == []  # a timed-out wait leaves nothing behind


def test_requests_coalesce_into_reloads_of_the_newest_release() -> None:
    kb = SwappingService(release=1, delay=0.3)
    reloader = Reloader(kb)  # type: ignore[arg-type]
    kb.next_release = 4
    threads = [threading.Thread(target=reloader.request) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reloader.stop()
    assert kb.snapshot.release == 4
    assert kb.reloads <= 2  # the one running, and one for everything requested meanwhile
