"""The bot's circuit breaker on a fake clock."""

from __future__ import annotations

import pytest

from api.conversation.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_only() -> None:
    b = CircuitBreaker(3, 5.0, Clock())
    b.failure("x")
    b.failure("x")
    b.success()  # resets the count
    b.failure("x")
    b.failure("x")
    assert b.state == "closed" and b.allow()
    b.failure("boom")
    assert b.state == "open" and not b.allow()
    assert b.snapshot()["last_error"] == "boom" and b.snapshot()["opened"] == 1


def test_half_open_lets_exactly_one_probe_through() -> None:
    clock = Clock()
    b = CircuitBreaker(1, 5.0, clock)
    b.failure()
    clock.now += 4.9
    assert not b.allow()
    clock.now += 0.2
    assert b.state == "half_open"
    assert b.allow()
    assert not b.allow()  # the probe is in flight
    b.success()
    assert b.state == "closed" and b.allow()


def test_failed_probe_reopens_for_another_period() -> None:
    clock = Clock()
    b = CircuitBreaker(2, 5.0, clock)
    b.failure()
    b.failure()
    clock.now += 5
    assert b.allow()
    b.failure()
    assert b.state == "open" and not b.allow()
    clock.now += 5
    assert b.allow()


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(0, 1)
