"""Wall-time spans of one chat turn, for the latency breakdown of `python -m bench
gateway_latency` (issue 17).

A turn opens a span list (`begin`); the gateway wraps its serial steps in `span(name)` (the
worker-thread steps from inside the thread, so the hop itself is the outer time minus the
inner one). The list lives in a context variable: anyio's worker threads run in a copy of
the caller's context, which holds the same list, so a span recorded in a thread lands in the
turn's list. Recording costs two `perf_counter` calls; the figures leave the process only as
a `Server-Timing` response header, and only with SERVER_TIMING=true (off by default: timings
tell an outsider how the service works inside).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_SPANS: ContextVar[list[tuple[str, float]] | None] = ContextVar("turn_spans", default=None)


def begin() -> list[tuple[str, float]]:
    """Open the span list of the current turn (a new one each call)."""
    spans: list[tuple[str, float]] = []
    _SPANS.set(spans)
    return spans


def add(name: str, seconds: float) -> None:
    """Record a span (no-op outside a turn)."""
    spans = _SPANS.get()
    if spans is not None:
        spans.append((name, seconds))


@contextmanager
def span(name: str) -> Iterator[None]:
    """Time the block as `name` (recorded also when it raises)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        add(name, time.perf_counter() - started)


def header(spans: list[tuple[str, float]]) -> str:
    """The spans as a `Server-Timing` header value (`name;dur=<ms>`, W3C Server Timing); a
    name recorded more than once is summed."""
    total: dict[str, float] = {}
    for name, seconds in spans:
        total[name] = total.get(name, 0.0) + seconds
    return ", ".join(f"{name};dur={1000 * s:.3f}" for name, s in total.items())


def parse(value: str) -> dict[str, float]:
    """A `Server-Timing` header value back to {name: ms} (what the bench reads)."""
    out: dict[str, float] = {}
    for part in value.split(","):
        name, _, rest = part.strip().partition(";")
        for param in rest.split(";"):
            key, _, val = param.strip().partition("=")
            if key == "dur" and name:
                out[name] = out.get(name, 0.0) + float(val)
    return out
