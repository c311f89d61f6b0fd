"""`python -m bench gateway_latency`: where one `POST /api/v1/chat` turn spends its wall time,
beside Rasa's REST webhook alone, sequentially (issue 17: p50 at half capacity <= 1.1x Rasa).

`bench load` measures the latency ratio under load, where queueing for the 2 cores magnifies
every serial wait. This bench takes the fixed part apart on a quiet stack, one message at a
time: the same sequential sessions (drawn like bench load's, one new signed cardholder each;
Rasa alone gets the metadata the gateway adds, so the bot does the same work) in alternating
blocks through Rasa alone and through the gateway, client wall time per message,
and for the gateway the turn's serial steps from its `Server-Timing` header (SERVER_TIMING=true,
`api/core/timing.py`):

- `admit`: rate limits, identity, the conversation row (worker thread);
- `begin`: the turn's first database step: user line, survey check, service session, paused
  handoffs, commit (worker thread);
- `first_step hop` = first_step - admit - begin: the worker-thread round trip;
- `resume`, `language`: Rasa calls before the turn (paused tracker, language slot);
- `rasa`: the REST webhook call itself;
- `finish`: the reply's transaction (lines, KB event, session record, commit) and its hop;
- `route rest`: the rest of the route (masking, reply validation);
- `http + middleware`: client wall time minus the route (HTTP, middleware, serialization).

Two databases for the service: SQLite (the embedded default) and PostgreSQL + Redis rate
limits (the production engines; Rasa's tracker stays on SQLite in both, it is the same in
both targets). Figures are per message (mean and median), ratios in the same run: no
threshold, no timed test.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from api.core.timing import parse
from bench.common import Skip, base_payload, header_md, md_table, write_result
from bench.gateway_cpu import session_texts
from bench.load import MESSAGES, MIX, Stack

BASE_PORT = int(os.environ.get("BENCH_GATEWAY_LATENCY_PORT",
                               os.environ.get("BENCH_GATEWAY_CPU_PORT", "18380")))
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = os.environ.get("BENCH_PG_DB", "bench_gateway_latency")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
# the derived rows of the breakdown, in the turn's order
ROWS = ("admit", "begin", "first_step hop", "resume", "language", "rasa", "finish",
        "finish hop", "route rest", "http + middleware")
# spans inside `admit` (shown apart, not summed again): limits, identity, conversation row
INNER = ("limits", "identify", "conversation")


def breakdown(wall_ms: float, spans: dict[str, float]) -> dict[str, float]:
    """One gateway message's wall time split into ROWS (ms; they sum to `wall_ms`)."""
    first, admit, begin = (spans.get(k, 0.0) for k in ("first_step", "admit", "begin"))
    fstep, finish = spans.get("finish_step", 0.0), spans.get("finish", 0.0)
    route = spans.get("route", 0.0)
    steps = first + spans.get("resume", 0.0) + spans.get("language", 0.0) \
        + spans.get("rasa", 0.0) + fstep
    return {"admit": admit, "begin": begin, "first_step hop": first - admit - begin,
            "resume": spans.get("resume", 0.0), "language": spans.get("language", 0.0),
            "rasa": spans.get("rasa", 0.0), "finish": finish, "finish hop": fstep - finish,
            "route rest": route - steps, "http + middleware": wall_ms - route}


def summary(values: list[float]) -> dict[str, float]:
    return {"mean": round(statistics.fmean(values), 2) if values else 0.0,
            "p50": round(statistics.median(values), 2) if values else 0.0}


class _Driver:
    def __init__(self, stack: Stack, tag: str) -> None:
        self.stack = stack
        self.tag = tag
        self.client = httpx.Client(timeout=60)
        self.serial = {"rasa": 0, "gateway": 0}

    def session(self, target: str) -> list[tuple[float, dict[str, float]]]:
        self.serial[target] += 1
        i = self.serial[target]
        user = f"lat-{self.tag}-{target}-{i}"
        out = []
        for text in session_texts(i):
            t0 = time.perf_counter()
            if target == "gateway":
                resp = self.client.post(f"{self.stack.api}/api/v1/chat",
                                        json=self.stack.chat_body(user, text))
            else:
                # the metadata the gateway adds for this (signed) cardholder: the bot does
                # the same work for both targets (a verified user's self-service differs)
                resp = self.client.post(f"{self.stack.rasa}/webhooks/rest/webhook",
                                        json={"sender": user, "message": text,
                                              "metadata": {"user_id": user, "channel": "web",
                                                           "user_verified": True,
                                                           "language": "zh"}})
            wall = 1000 * (time.perf_counter() - t0)
            if resp.status_code != 200:
                raise RuntimeError(f"{target} answered {resp.status_code}: {resp.text[:300]}")
            spans: dict[str, float] = {}
            if target == "gateway":
                if (resp.json().get("details") or {}).get("degraded"):
                    raise RuntimeError(f"degraded reply (the bot was not measured): "
                                       f"{resp.text[:300]}")
                header = resp.headers.get("server-timing")
                if not header:
                    raise RuntimeError("no Server-Timing header (SERVER_TIMING not on?)")
                spans = parse(header)
            out.append((wall, spans))
        return out


def _pg_reset() -> str:
    """A fresh PostgreSQL database for the service; its SQLAlchemy URL."""
    for sql in (f"DROP DATABASE IF EXISTS {PG_DB}", f"CREATE DATABASE {PG_DB}"):
        done = subprocess.run(["psql", PG_ADMIN_URL, "-q", "-c", sql], capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise Skip(f"PostgreSQL not usable ({PG_ADMIN_URL}): {done.stderr.strip()[:200]}")
    host = PG_ADMIN_URL.removeprefix("postgresql://").rsplit("/", 1)[0]
    return f"postgresql+psycopg://{host}/{PG_DB}"


def _measure(engine: str, base: int, sessions: int, rounds: int,
             log: Callable[[str], None]) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-gateway-latency-{engine}-"))
    env = {"RASA_STANDBY": "0", "API_STANDBY": "0", "SERVER_TIMING": "true",
           "RATE_LIMIT_CHAT_PER_IP": "100000/minute"}
    if engine == "postgresql":
        env.update({"DATABASE_URL": _pg_reset(), "RATE_LIMIT_STORAGE_URL": REDIS_URL})
    stack = Stack(tmp, base=base, extra_env=env)
    log(f"  [{engine}] starting the embedded stack on :{base}.. ({tmp})")
    stack.start()
    walls: dict[str, list[float]] = {"rasa": [], "gateway": []}
    parts: dict[str, list[float]] = {k: [] for k in ROWS}
    own: list[float] = []  # the gateway's wall time minus its own Rasa call
    inner: dict[str, list[float]] = {k: [] for k in INNER}
    try:
        driver = _Driver(stack, engine)
        for target in ("rasa", "gateway"):  # warm-up
            driver.session(target)
        for r in range(rounds):
            for target in (("rasa", "gateway") if r % 2 == 0 else ("gateway", "rasa")):
                for _ in range(sessions):
                    for wall, spans in driver.session(target):
                        walls[target].append(wall)
                        if target == "gateway":
                            for k, v in breakdown(wall, spans).items():
                                parts[k].append(v)
                            own.append(wall - spans.get("rasa", 0.0))
                            for k in INNER:
                                if k in spans:
                                    inner[k].append(spans[k])
            log(f"  [{engine}] round {r + 1}: rasa p50 "
                f"{statistics.median(walls['rasa']):.1f} ms, gateway p50 "
                f"{statistics.median(walls['gateway']):.1f} ms")
    finally:
        stack.stop()
    rasa, gw = summary(walls["rasa"]), summary(walls["gateway"])
    return {"messages": {t: len(v) for t, v in walls.items()},
            "wall_ms": {"rasa": rasa, "gateway": gw},
            "added_ms": {k: round(gw[k] - rasa[k], 2) for k in gw},
            "ratio": {k: round(gw[k] / rasa[k], 3) for k in gw},
            "gateway_own_ms": summary(own),
            "breakdown_ms": {k: summary(v) for k, v in parts.items()},
            "admit_ms": {k: summary(v) for k, v in inner.items() if v}}


def run(sessions: int = 8, rounds: int = 3, engines: tuple[str, ...] = ("sqlite", "postgresql"),
        log: Callable[[str], None] = print, name: str = "gateway_latency") -> dict[str, Any]:
    started = time.perf_counter()
    out: dict[str, Any] = {}
    for n, engine in enumerate(engines):
        try:
            out[engine] = _measure(engine, BASE_PORT + 10 * n, sessions, rounds, log)
        except Skip as exc:
            log(f"  [{engine}] skipped: {exc}")
    if not out:
        raise Skip("no engine could be measured")
    payload = base_payload(name, ("httpx", "fastapi", "uvicorn", "sqlalchemy", "psycopg"))
    payload.update({"engines": out, "runtime_s": time.perf_counter() - started,
                    "sessions_per_block": sessions, "rounds": rounds,
                    "mix": [(k, t, w) for k, t, w in MIX], "load_avg_1m": os.getloadavg()[0],
                    "commit": _commit()})
    write_result(name, payload, _markdown(payload))
    log(_markdown(payload))
    return payload


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    return done.stdout.strip()


def _markdown(p: dict[str, Any]) -> str:
    lines = [header_md("Gateway latency per message, sequential (`python -m bench "
                       "gateway_latency`)", p),
             f"- code: {p['commit']} (+ working tree); load average (1 min) after the run: "
             f"{p['load_avg_1m']:.2f}",
             f"- sequential sessions of {MESSAGES} messages drawn like bench load's, one new "
             f"user each; {p['sessions_per_block']} sessions per block, {p['rounds']} rounds of "
             "a Rasa-alone and a gateway block (alternating order); embedded stack, no "
             "standbys; Rasa's tracker on SQLite", ""]
    for engine, e in p["engines"].items():
        w = e["wall_ms"]
        lines += [f"## Service database: {engine}", "",
                  f"messages: {e['messages']}", "",
                  md_table(("wall ms/msg", "rasa alone", "gateway", "added", "ratio"),
                           [(k, w["rasa"][k], w["gateway"][k], e["added_ms"][k], e["ratio"][k])
                            for k in ("mean", "p50")]),
                  "", f"The gateway's own time (its wall time minus its Rasa call): mean "
                  f"{e['gateway_own_ms']['mean']} ms, p50 {e['gateway_own_ms']['p50']} ms.", "",
                  "The gateway's message, step by step (ms; the means sum to its mean):", "",
                  md_table(("step", "mean", "p50"),
                           [(k, v["mean"], v["p50"]) for k, v in e["breakdown_ms"].items()]),
                  ""]
        if e.get("admit_ms"):
            lines += ["Inside `admit` (ms):", "",
                      md_table(("part", "mean", "p50"),
                               [(k, v["mean"], v["p50"]) for k, v in e["admit_ms"].items()]),
                      ""]
    return "\n".join(lines)
