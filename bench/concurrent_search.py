"""KB search under concurrency: encode calls combined across requests vs one call per request.

The API's KB search (the action server's `/internal/v1/kb/search` and the gateway's degraded
mode) runs in worker threads; each encoder runs one call at a time. With combining
(knowledge_base/search/combining.py) the questions waiting for a model are encoded in one
batch. Measured in one process and one run, on the service's own KB (the index `make index`
built for the configured database): `clients` threads each search the next question of a fixed
list of real-style questions as soon as their previous search returns (closed loop), for
`seconds` per cell, alternately with combining off (the baseline: every call alone) and on.
Reported: searches per second, p50/p99 latency, CPU ms per search, and model calls per search.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.common import Skip, base_payload, header_md, md_table, write_result

QUESTIONS = ("信用卡年费怎么收", "怎么修改账单日", "信用卡丢了怎么办", "积分怎么兑换",
             "请问信用卡逾期一天会影响征信吗", "境外消费怎么还款", "提额需要什么条件",
             "分期可以提前还清吗", "为什么我的卡刷不了", "账单分期手续费是多少",
             "临时额度到期了怎么办", "我想注销信用卡")


def _pct(values: list[float], q: float) -> float | None:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else None


def _service() -> Any:
    try:
        from api.core.config import get_settings
        from knowledge_base.search.service import KnowledgeService
    except ImportError as exc:
        raise Skip(f"service not importable: {exc}") from exc
    service = KnowledgeService(get_settings().kb_config())
    try:
        service.reload()
    except Exception as exc:  # noqa: BLE001 - no index or database: tell how to make one
        raise Skip(f"no KB to search ({type(exc).__name__}: {exc}); run `make index`") from exc
    return service


def _cell(service: Any, clients: int, seconds: float, combine: bool) -> dict[str, Any]:
    encoder = service.snapshot.encoder
    for model in (encoder.e5, encoder.second):
        model.combine = combine
    runs_before = encoder.e5.combiner.runs
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        n = i
        while time.monotonic() < stop:
            t = time.perf_counter()
            service.search(QUESTIONS[n % len(QUESTIONS)], channel="web")
            with lock:
                latencies.append(time.perf_counter() - t)
            n += clients

    cpu0, wall0 = time.process_time(), time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    n = len(latencies)
    e5_runs = encoder.e5.combiner.runs - runs_before if combine else n
    return {"searches": n, "per_s": round(n / wall, 2),
            "p50_ms": round(1000 * (_pct(latencies, 0.5) or 0), 1),
            "p99_ms": round(1000 * (_pct(latencies, 0.99) or 0), 1),
            "cpu_ms_per_search": round(1000 * cpu / max(n, 1), 1),
            "e5_calls_per_search": round(e5_runs / max(n, 1), 3)}


def run(clients: tuple[int, ...] = (1, 4, 8), seconds: float = 15.0, rounds: int = 2,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    started = time.perf_counter()
    service = _service()
    for q in QUESTIONS:  # warm-up: first calls load lazy parts
        service.search(q, channel="web")
    cells: dict[str, list[dict[str, Any]]] = {}
    for r in range(rounds):
        for c in clients:
            # alternate the order per round, so a drift in the machine's load favours neither
            for combine in ((False, True) if r % 2 == 0 else (True, False)):
                key = f"{'combined' if combine else 'alone'}@{c}"
                s = _cell(service, c, seconds, combine)
                cells.setdefault(key, []).append(s)
                log(f"  round {r + 1} {key}: {s}")
    service.close()
    merged = {k: {m: round(sum(v[m] for v in vs) / len(vs), 3) for m in vs[0]}
              for k, vs in cells.items()}
    ratios = {c: {"throughput": round(merged[f"combined@{c}"]["per_s"]
                                      / merged[f"alone@{c}"]["per_s"], 3),
                  "p50": round(merged[f"combined@{c}"]["p50_ms"]
                               / merged[f"alone@{c}"]["p50_ms"], 3),
                  "cpu": round(merged[f"combined@{c}"]["cpu_ms_per_search"]
                               / merged[f"alone@{c}"]["cpu_ms_per_search"], 3)}
              for c in clients}
    payload = base_payload("concurrent_search", ("torch", "sentence-transformers", "faiss-cpu"))
    payload.update({"cells": merged, "rounds": cells, "ratios_combined_over_alone": ratios,
                    "clients": list(clients), "seconds_per_cell": seconds,
                    "runtime_s": time.perf_counter() - started,
                    "load_avg_1m": os.getloadavg()[0]})
    cols = ("searches", "per_s", "p50_ms", "p99_ms", "cpu_ms_per_search", "e5_calls_per_search")
    markdown = "\n".join([
        header_md("KB search under concurrency (`python -m bench concurrent_search`)", payload),
        f"- load average (1 min) after the run: {payload['load_avg_1m']:.2f}",
        f"- closed loop: each client searches again when its search returns; {seconds:g} s "
        f"per cell, {rounds} rounds (order alternated), means of the rounds; "
        f"{len(QUESTIONS)} questions in turn", "",
        md_table(("cell", *cols), [(k, *(v[c] for c in cols)) for k, v in merged.items()]), "",
        "Combined over alone (same run): throughput ×, p50 ×, CPU per search ×", "",
        md_table(("clients", "throughput", "p50", "cpu"),
                 [(c, r["throughput"], r["p50"], r["cpu"]) for c, r in ratios.items()]),
    ])
    write_result("concurrent_search", payload, markdown)
    return payload
