"""Overload with and without the adaptive bot limit (api/conversation/limiter.py), same traffic.

Two embedded stacks in turn (bench load's `Stack`): the shipped settings, then the fixed cap of
before (BOT_MIN_INFLIGHT = BOT_MAX_INFLIGHT, so the limit never falls). Each gets a short
warm-up, then the same open-loop sessions (one seed) at `rate` messages/s for `seconds`.
Reported: 5xx, 429, degraded (answered from the KB) and latency percentiles of each.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import load
from bench.common import base_payload, header_md, md_table, write_result

MODES: tuple[tuple[str, dict[str, str]], ...] = (
    ("adaptive", {}), ("fixed", {"BOT_MIN_INFLIGHT": "48", "BOT_MAX_INFLIGHT": "48"}))


def run(rate: float = 30.0, seconds: float = 20.0, log: Callable[[str], None] = print
        ) -> dict[str, Any]:
    started = time.perf_counter()
    out: dict[str, Any] = {}
    for label, env in MODES:
        tmp = Path(tempfile.mkdtemp(prefix=f"bench-overload-{label}-"))
        stack = load.Stack(tmp, extra_env=env)
        log(f"  starting the embedded stack ({label})")
        stack.start()
        try:
            asyncio.run(load._load("gateway", stack, 4.0, 10.0, (2.0, 6.0), 7))  # warm-up
            records, _ = asyncio.run(load._load("gateway", stack, rate, seconds, (2.0, 6.0),
                                                4242))
            out[label] = load._summary(records)
            log(f"  {label}: {out[label]}")
        finally:
            stack.stop()
    payload = base_payload("overload", ("httpx", "fastapi", "uvicorn"))
    payload.update({"rate": rate, "seconds": seconds, "modes": out,
                    "runtime_s": time.perf_counter() - started,
                    "load_avg_1m": os.getloadavg()[0]})
    cols = ("messages", "ok", "5xx", "429", "degraded", "p50_s", "p95_s", "p99_s", "max_s",
            "faq_p99_s")
    markdown = "\n".join([
        header_md("Overload: adaptive bot limit vs fixed cap (`python -m bench overload`)",
                  payload),
        f"- load average (1 min) after the run: {payload['load_avg_1m']:.2f}",
        f"- embedded stack, {rate:g} msg/s open loop for {seconds:g} s (bench load's mix and "
        "think times, one seed for both); fixed = BOT_MIN_INFLIGHT = BOT_MAX_INFLIGHT = 48", "",
        md_table(("mode", *cols), [(k, *(v[c] for c in cols)) for k, v in out.items()]),
    ])
    write_result("overload", payload, markdown)
    return payload
