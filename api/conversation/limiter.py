"""How many bot turns one API process lets wait on the bot at once, adapted to the bot's speed.

A fixed cap (`BOT_MAX_INFLIGHT`) is right for one machine and wrong for the next: set for a big
box, an overloaded small one queues every turn behind the cap until the bot budget runs out
(measured: p50 3.6 s, p99 12.5 s at twice the capacity of a 2-core box). Like TCP's congestion
window and Netflix's concurrency-limits, the limit follows additive increase / multiplicative
decrease: a turn the bot answers within ``target`` seconds raises the limit by 1/limit (about one
per limit-full of such turns), a slower one cuts it by ``backoff``, at most once per
``target`` seconds (one burst of slow turns is one signal). Turns over the limit are answered
from the KB at once (degraded mode, reason "busy") instead of joining the queue; the gateway's
second cap, on those KB-only turns, then answers 429 + Retry-After. Bounded by
[``minimum``, ``maximum``]; it starts at ``maximum``, so a quiet service never sheds.
No locks: every method runs on the event loop between awaits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class AdaptiveLimit:
    """AIMD limit of bot turns in flight (see the module docstring)."""

    def __init__(self, maximum: int, *, minimum: int = 4, target: float = 2.0,
                 backoff: float = 0.5, clock: Callable[[], float] = time.monotonic) -> None:
        if maximum < 0 or minimum < 1 or target <= 0 or not 0 < backoff < 1:
            raise ValueError("need maximum >= 0, minimum >= 1, target > 0, 0 < backoff < 1")
        self._wanted_minimum = minimum
        self.target = target
        self.backoff = backoff
        self._clock = clock
        self._last_cut = -float("inf")
        self.cuts = 0
        self._limit = float(maximum)
        self.set_maximum(maximum)

    def set_maximum(self, maximum: int) -> None:
        """A new ceiling (BOT_MAX_INFLIGHT); the current limit never stays above it."""
        if maximum < 0:
            raise ValueError("maximum must be >= 0")
        self.maximum = maximum
        self.minimum = min(self._wanted_minimum, maximum) if maximum else self._wanted_minimum
        # from "no limit" (0) or to it, start at the ceiling; else never above it
        self._limit = (min(self._limit, float(maximum)) if maximum and self._limit
                       else float(maximum))

    @property
    def current(self) -> int:
        """Turns allowed in flight now (0: no limit at all, as ``maximum`` 0 says)."""
        return int(self._limit)

    def admits(self, inflight: int) -> bool:
        """Whether one more turn may go to the bot with ``inflight`` turns already there."""
        return self.maximum <= 0 or inflight < self.current

    def record(self, seconds: float) -> None:
        """A bot turn took ``seconds`` (answered, or given up at the budget)."""
        if self.maximum <= 0:
            return
        if seconds <= self.target:
            self._limit = min(float(self.maximum), self._limit + 1.0 / max(self._limit, 1.0))
            return
        now = self._clock()
        if now - self._last_cut >= self.target:
            self._limit = max(float(self.minimum), self._limit * self.backoff)
            self._last_cut = now
            self.cuts += 1

    def snapshot(self) -> dict[str, Any]:
        """For /health."""
        return {"limit": self.current, "maximum": self.maximum, "minimum": self.minimum,
                "target_seconds": self.target, "cuts": self.cuts}
