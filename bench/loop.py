"""Event-loop blocking on the chat path: the gateway with its database work on the event loop
(how it was before issue 17) against the same gateway with that work in worker threads (now).

In one process and one run: a temporary SQLite service database migrated like `make run` does,
the real `Gateway` + `HandoffService`, and a fake Rasa whose REST webhook answers after a fixed
delay without using the loop (`asyncio.sleep`, as a remote server would). `--concurrency`
cardholders send `--messages` messages each as fast as replies come back, while a ticker
measures how late the loop wakes it (loop lag: what every other request and WebSocket waits).
The "inline" baseline swaps the gateway's `to_thread.run_sync` for a direct call, i.e. the same
statements executed on the loop. The ceiling is the fake Rasa driven alone.
"""

from __future__ import annotations

import asyncio
import functools
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bench.common import base_payload, header_md, md_table, write_result

RASA_DELAY = 0.05
TICK = 0.005


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


class _Inline:
    """`anyio.to_thread` stand-in that runs the function on the loop (the old behaviour)."""

    @staticmethod
    async def run_sync(func: Callable[..., Any], *args: Any) -> Any:
        return func(*args)


async def _drive(send: Callable[[str, str], Awaitable[Any]], concurrency: int,
                 messages: int) -> dict[str, Any]:
    latencies: list[float] = []
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(TICK)
            lags.append(time.perf_counter() - t - TICK)

    async def user(i: int) -> None:
        for j in range(messages):
            t = time.perf_counter()
            await send(f"bench-loop-{i}", f"年费怎么收 {j}")
            latencies.append(time.perf_counter() - t)

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    await asyncio.gather(*(user(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    stop.set()
    await tick
    return {"replies": len(latencies), "seconds": round(elapsed, 3),
            "replies_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(_pct(latencies, 0.5) * 1000, 1),
            "p99_ms": round(_pct(latencies, 0.99) * 1000, 1),
            "loop_lag_p50_ms": round(_pct(lags, 0.5) * 1000, 2),
            "loop_lag_p99_ms": round(_pct(lags, 0.99) * 1000, 2),
            "loop_lag_max_ms": round(max(lags) * 1000, 2) if lags else 0.0}


async def _handle(gw: Any, user: str, text: str) -> Any:
    from api.conversation.gateway import IncomingMessage

    return await gw.handle(IncomingMessage("web", user, text))


async def _run(concurrency: int, messages: int, log: Callable[[str], None]) -> dict[str, Any]:
    import migrations
    from api.conversation import gateway as gateway_module
    from api.conversation.gateway import Gateway
    from api.conversation.rasa_client import RasaClient
    from api.core.config import Settings
    from api.handoff.hub import Hub
    from api.handoff.service import HandoffService
    from knowledge_base import db as service_db

    async def rasa_handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(RASA_DELAY)
        if request.url.path == "/webhooks/rest/webhook":
            return httpx.Response(200, json=[
                {"text": "年费规则……"},
                {"custom": {"meta": {"outcome": "answered", "kb": {
                    "entry_id": "fee-001", "score": 0.95, "release": 1}}}}])
        return httpx.Response(200, json={})

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("rasa_alone", "inline", "threaded"):
            url = f"sqlite:///{Path(tmp) / mode}.db"
            migrations.upgrade("service", url)
            settings = Settings(database_url=url, card_db_url=f"sqlite:///{Path(tmp)}/cards.db",
                                bot_budget_seconds=4.0)
            rasa = RasaClient(settings, httpx.AsyncClient(
                transport=httpx.MockTransport(rasa_handler), base_url="http://rasa"))
            sessions = service_db.sessions(url)
            gw = Gateway(sessions, rasa, HandoffService(sessions, settings, Hub()))
            send: Callable[[str, str], Awaitable[Any]]
            if mode == "rasa_alone":
                send = functools.partial(rasa.send, metadata={})
            else:
                send = functools.partial(_handle, gw)
            saved = gateway_module.to_thread
            if mode == "inline":
                gateway_module.to_thread = _Inline  # type: ignore[assignment]
            try:
                await send("warm-up", "你好")
                results[mode] = await _drive(send, concurrency, messages)
            finally:
                gateway_module.to_thread = saved
                await rasa.aclose()
            log(f"  {mode}: {results[mode]}")
    return results


def run(concurrency: int = 20, messages: int = 15,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    started = time.perf_counter()
    results = asyncio.run(_run(concurrency, messages, log))
    base, new, ceiling = results["inline"], results["threaded"], results["rasa_alone"]
    payload = base_payload("loop", ("sqlalchemy", "anyio", "httpx"))
    payload.update({
        "runtime_s": time.perf_counter() - started,
        "load_avg_1m": os.getloadavg()[0],
        "concurrency": concurrency, "messages_per_user": messages,
        "rasa_delay_ms": RASA_DELAY * 1000, "results": results,
        "threaded_vs_inline_throughput": round(new["replies_per_s"] / base["replies_per_s"], 2),
        "threaded_vs_inline_loop_lag_p99": round(
            new["loop_lag_p99_ms"] / max(base["loop_lag_p99_ms"], 1e-3), 2),
        "threaded_vs_rasa_alone_throughput": round(
            new["replies_per_s"] / ceiling["replies_per_s"], 2),
    })
    cols = ("replies_per_s", "p50_ms", "p99_ms", "loop_lag_p50_ms", "loop_lag_p99_ms",
            "loop_lag_max_ms")
    markdown = "\n".join([
        header_md("Event-loop blocking on the chat path", payload),
        f"- load average (1 min) after the run: {payload['load_avg_1m']:.2f}", "",
        f"{concurrency} concurrent cardholders x {messages} messages each, sent as fast as "
        f"replies come back; fake Rasa answering after {RASA_DELAY * 1000:.0f} ms without "
        "using the loop; temporary SQLite service DB; one process, one run. `inline`: the "
        "gateway's database work on the event loop (before issue 17); `threaded`: in worker "
        "threads (now); `rasa_alone`: the fake Rasa driven alone (ceiling). Loop lag: how late "
        f"a {TICK * 1000:.0f} ms ticker wakes up.", "",
        md_table(("mode", *cols), [(m, *(r[c] for c in cols)) for m, r in results.items()]),
        "",
        f"threaded / inline: throughput {payload['threaded_vs_inline_throughput']}x, loop lag "
        f"p99 {payload['threaded_vs_inline_loop_lag_p99']}x; threaded / Rasa alone: "
        f"throughput {payload['threaded_vs_rasa_alone_throughput']}x.",
    ])
    write_result("loop", payload, markdown)
    log(markdown)
    return payload


if __name__ == "__main__":
    run()
