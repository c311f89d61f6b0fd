"""The load bench's capacity search (bench/load.py): steps, then bisection to 0.25 msg/s."""

from __future__ import annotations

from typing import Any

from bench.load import capacity_search


def stack_with_capacity(limit: float, tried: list[float]) -> Any:
    """A stand-in stack whose p99 crosses 2 s above `limit` msg/s."""
    def measure(rate: float) -> dict[str, Any]:
        tried.append(rate)
        p99 = 1.0 if rate <= limit else 3.0
        return {"p99_s": p99, "5xx": 0, "errors": 0}
    return measure


def test_steps_then_bisection_to_a_quarter() -> None:
    tried: list[float] = []
    assert capacity_search(stack_with_capacity(3.6, tried)) == 3.5
    assert tried == [1.0, 2.0, 3.0, 4.0, 3.5, 3.75]


def test_an_error_fails_a_step_even_with_a_low_p99() -> None:
    def measure(rate: float) -> dict[str, Any]:
        return {"p99_s": 0.5, "5xx": 1 if rate > 2 else 0, "errors": 0}
    assert capacity_search(measure) == 2.0


def test_below_the_first_step_and_never_failing() -> None:
    assert capacity_search(stack_with_capacity(0.3, [])) == 0.25
    assert capacity_search(stack_with_capacity(0.1, [])) is None
    tried: list[float] = []
    assert capacity_search(stack_with_capacity(100, tried), ceiling=5.0) == 5.0
    assert tried == [1.0, 2.0, 3.0, 4.0, 5.0]
