"""End-to-end latency against a running stack (`make run`): the public `POST /api/v1/chat` of the
gateway versus Rasa's own REST channel `POST /webhooks/rest/webhook`, in the same run.

Requests are sequential and interleaved (gateway, Rasa, gateway, ...) so both endpoints see the
same machine load. Every request opens a new conversation (user id `bench-e2e-<run>-<i>`), so each
measures a first turn: NLU, policies, the action server (and retrieval for FAQ questions) and, for
the gateway, its own storage and routing on top. The messages cycle through a fixed list of seed
questions, held-out paraphrases, small talk and out-of-scope lines.
Skips with a message when the stack is not reachable.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.common import (
    Skip,
    base_payload,
    header_md,
    md_table,
    percentile_ms,
    post_first_turn,
    write_result,
)

MESSAGES = (
    "怎么查看信用卡本期账单",
    "账单日是什么意思",
    "新卡寄到了咋开卡啊",
    "信用卡逾期了会怎么样",
    "我想分期还款",
    "积分怎么兑换",
    "卡丢了怎么办",
    "你好",
    "今天天气怎么样",
    "谢谢",
)
WARMUP = 5
TIMEOUT_S = 30.0


def endpoints() -> dict[str, str]:
    """Base URLs from the environment (`make bench` sources .env.example)."""
    host = os.environ.get("HOST", "127.0.0.1")
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    api = os.environ.get("BENCH_API_URL") or f"http://{host}:{os.environ.get('PORT', '8000')}"
    rasa = os.environ.get("RASA_URL") or f"http://127.0.0.1:{os.environ.get('RASA_PORT', '5005')}"
    return {"api": api.rstrip("/"), "rasa": rasa.rstrip("/")}


def check_up(client: Any, urls: dict[str, str]) -> dict[str, Any]:
    """Raise Skip unless the gateway and Rasa both answer."""
    import httpx

    info: dict[str, Any] = {}
    try:
        health = client.get(f"{urls['api']}/health", timeout=5)
        info["api_health"] = health.json() if health.headers.get("content-type", "").startswith(
            "application/json") else health.status_code
        client.get(f"{urls['rasa']}/", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        raise Skip(
            f"stack not running ({type(exc).__name__} on {urls}); start it with `make run`"
        ) from exc
    return info


def run(requests: int = 200, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure both endpoints and write bench/results/e2e.{json,md}."""
    import httpx

    t_start = time.perf_counter()
    urls = endpoints()
    run_id = uuid.uuid4().hex[:8]
    lat: dict[str, list[int]] = {"api": [], "rasa": []}
    errors: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    with httpx.Client(timeout=TIMEOUT_S) as client:
        info = check_up(client, urls)

        def call(kind: str, i: int, text: str) -> tuple[int, Any]:
            user = f"bench-e2e-{run_id}-{kind}-{i}"
            if kind == "api":
                url = f"{urls['api']}/api/v1/chat"
                body: dict[str, Any] = {"user_id": user, "text": text, "channel": "web"}
            else:
                url = f"{urls['rasa']}/webhooks/rest/webhook"
                body = {"sender": user, "message": text}
            if kind == "api":
                resp, took = post_first_turn(client, url, body, log)
            else:
                t0 = time.perf_counter_ns()
                resp = client.post(url, json=body)
                took = time.perf_counter_ns() - t0
            resp.raise_for_status()
            return took, resp.json()

        for i in range(WARMUP):
            for kind in ("api", "rasa"):
                call(kind, -1 - i, MESSAGES[i % len(MESSAGES)])
        log(f"e2e: {requests} sequential requests per endpoint against {urls}")
        for i in range(requests):
            text = MESSAGES[i % len(MESSAGES)]
            for kind in ("api", "rasa"):
                try:
                    took, data = call(kind, i, text)
                except httpx.HTTPError as exc:
                    errors[f"{kind}: {type(exc).__name__}"] += 1
                    continue
                lat[kind].append(took)
                if kind == "api" and isinstance(data, dict):
                    outcomes[str(data.get("outcome"))] += 1

    stats: dict[str, Any] = {}
    for kind, samples in lat.items():
        if samples:
            arr = np.asarray(samples)
            stats[kind] = {
                "n": len(samples),
                "p50_ms": percentile_ms(arr, 50),
                "p90_ms": percentile_ms(arr, 90),
                "p99_ms": percentile_ms(arr, 99),
                "mean_ms": float(arr.mean() / 1e6),
                "max_ms": float(arr.max() / 1e6),
            }
    payload = base_payload("e2e", ["httpx", "fastapi", "uvicorn"])
    payload.update(
        {
            "runtime_s": time.perf_counter() - t_start,
            "urls": urls,
            "requests_per_endpoint": requests,
            "messages": list(MESSAGES),
            "loadavg_after": os.getloadavg()[0],
            "stats": stats,
            "errors": dict(errors),
            "api_outcomes": dict(outcomes),
            "stack": info,
        }
    )
    write_result("e2e", payload, render(payload))
    return payload


def render(payload: dict[str, Any]) -> str:
    """Markdown report."""
    labels = {"api": "gateway `POST /api/v1/chat`", "rasa": "Rasa `POST /webhooks/rest/webhook`"}
    rows = [
        [labels[k], s["n"], s["p50_ms"], s["p90_ms"], s["p99_ms"], s["mean_ms"], s["max_ms"]]
        for k, s in payload["stats"].items()
    ]
    text = header_md("End-to-end chat latency (running stack)", payload)
    text += (
        f"- {payload['requests_per_endpoint']} sequential requests per endpoint, interleaved, "
        "each a first turn of a new conversation; messages cycle through "
        f"{len(payload['messages'])} fixed lines\n"
        f"- load average (1 min) after the run: {payload['loadavg_after']:.2f}\n\n"
        + md_table(["endpoint", "n", "p50 ms", "p90 ms", "p99 ms", "mean ms", "max ms"], rows)
    )
    if "api" in payload["stats"] and "rasa" in payload["stats"]:
        over = payload["stats"]["api"]["p50_ms"] - payload["stats"]["rasa"]["p50_ms"]
        text += f"\n\nGateway overhead at p50: {over:+.1f} ms over Rasa alone.\n"
    if payload["errors"]:
        text += f"\nErrors: {payload['errors']}\n"
    if payload["api_outcomes"]:
        text += f"\nGateway outcomes: {payload['api_outcomes']}\n"
    return text
