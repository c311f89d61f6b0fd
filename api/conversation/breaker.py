"""A small circuit breaker for the bot (Rasa + action server), for one asyncio event loop.

closed -> ``failures`` consecutive failures -> open: calls are refused at once (the gateway
answers in degraded mode) -> after ``reset_seconds`` -> half-open: exactly one call goes through
as a probe; its success closes the breaker, its failure opens it again for another
``reset_seconds``. No locks: every method runs on the event loop between awaits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitBreaker:
    """Consecutive-failure breaker with a single half-open probe."""

    def __init__(self, failures: int = 3, reset_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if failures < 1 or reset_seconds < 0:
            raise ValueError("failures must be >= 1 and reset_seconds >= 0")
        self.failures = failures
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._state = CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        self.opened_count = 0
        self.last_error: str | None = None

    @property
    def state(self) -> str:
        """closed, open or half_open (open turns half-open once reset_seconds have passed)."""
        if self._state == OPEN and self._clock() - self._opened_at >= self.reset_seconds:
            return HALF_OPEN
        return self._state

    def allow(self) -> bool:
        """Whether a call may go to the bot now (in half-open: only the one probe)."""
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self._probe_in_flight:
            self._state = HALF_OPEN
            self._probe_in_flight = True
            return True
        return False

    def success(self) -> None:
        """The call worked: close."""
        self._state = CLOSED
        self._consecutive = 0
        self._probe_in_flight = False

    def failure(self, error: str = "") -> None:
        """The call failed (error, timeout, unusable reply): count; open at the threshold or
        when the half-open probe failed."""
        self.last_error = error or None
        self._consecutive += 1
        if self._state == HALF_OPEN or self._consecutive >= self.failures:
            if self._state != OPEN:
                self.opened_count += 1
            self._state = OPEN
            self._opened_at = self._clock()
            self._probe_in_flight = False

    def snapshot(self) -> dict[str, Any]:
        """For /health."""
        return {"state": self.state, "consecutive_failures": self._consecutive,
                "opened": self.opened_count, "last_error": self.last_error}
