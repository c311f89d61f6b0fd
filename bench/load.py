"""`make bench-load`: load and faults on the embedded default, beside Rasa's REST webhook alone.

Starts the stack like `make run` (supervisord, `python -m api supervise`) on spare loopback ports
with a temporary data directory, then, in one run:

- **capacity**: cardholders arrive open-loop (Poisson) at a message rate; each sends
  `MESSAGES` messages (mix: FAQ, self-service, handoff) with a uniform think time between a
  reply and the next message. The same arrivals drive `POST /api/v1/chat` and, separately,
  Rasa's REST webhook of the same stack. Capacity = the highest rate with p99 <= 2 s and no
  error: steps of 1 msg/s up to the first failing one, then bisection down to 0.25 msg/s.
- **half capacity**: p50 / p95 / p99 of both.
- **faults at half capacity** (gateway): SIGSTOP of Rasa for `FAULT_SECONDS`, kill -9 of the
  action server, kill -9 of Rasa; 5xx count, lost messages (a 200 whose user line is missing
  from the transcript), FAQ p99, and recovery (first non-degraded reply after the part is back).
- **overload at 2x capacity**: 5xx, 429 (shed with Retry-After), max latency.

`--topology production` runs the same on the production topology on loopback
(bench/topology.py: nginx, 2 API, 2 Rasa, actions, on a private PostgreSQL and Redis this bench
starts and may restart), Rasa alone being its internal nginx upstream (both Rasa replicas), and
adds the faults only it has: SIGSTOP / kill -9 of one Rasa replica, kill -9 of one API replica,
a Redis restart and a PostgreSQL restart. A killed process is started again after 1 s (what
compose's restart policy does there).

Bounded: every step lasts `--seconds` of arrivals plus the time the last sessions need to
finish; the machine is shared, so the default think time (2-6 s) is shorter than the issue's
5-20 s (`--think 5,20` for that).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.common import REPO_ROOT, Skip, base_payload, header_md, md_table, write_result
from bench.supervised import stack_env

MIX = [  # (kind, text, weight)
    ("faq", "信用卡年费怎么收", 3), ("faq", "怎么修改账单日", 2), ("faq", "信用卡丢了怎么办", 2),
    ("faq", "积分怎么兑换", 1), ("self_service", "帮我查一下本期账单", 1),
    ("self_service", "我的额度还有多少", 1), ("handoff", "转人工", 0.5),
]
MESSAGES = 3
P99_TARGET = 2.0
FAULT_SECONDS = 15.0
BASE_PORT = int(os.environ.get("BENCH_LOAD_PORT", "18340"))


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


class Stack:
    """The embedded default under the supervisor, on its own ports and data directory."""

    def __init__(self, tmp: Path, base: int = BASE_PORT,
                 extra_env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.rasa = f"http://127.0.0.1:{base}"
        self.api = f"http://127.0.0.1:{base + 2}"
        # every simulated cardholder comes from 127.0.0.1: the per-IP limit would count them
        # as one client (the per-user and per-conversation limits stay as shipped; the one on
        # new anonymous visitors per address is lifted by stack_env, though these cardholders
        # are signed and never count there)
        self.env = stack_env(tmp, base, {"LOG_LEVEL": "WARNING",
                                         "RATE_LIMIT_CHAT_PER_IP": "100000/minute",
                                         **(extra_env or {})})
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 420) -> None:
        subprocess.run([sys.executable, "-m", "api", "migrate"], cwd=REPO_ROOT, env=self.env,
                       check=True, capture_output=True)
        log = open(self.tmp / "stack.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen([sys.executable, "-m", "api", "supervise"], cwd=REPO_ROOT,
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api}/health", timeout=10).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(2)
        self.stop()
        raise Skip(f"the stack did not become healthy within {timeout:.0f} s")

    def pid(self, name: str) -> int:
        body = httpx.get(f"{self.api}/health", timeout=10).json()
        return int(body["processes"][name]["pid"])

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.api}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)

    def user_lines(self) -> int:
        with sqlite3.connect(self.tmp / "app.db") as db:
            return int(db.execute("SELECT count(*) FROM messages WHERE sender='user'")
                       .fetchone()[0])

    def chat_body(self, user: str, text: str) -> dict[str, Any]:
        # Signed like the production topology's: an unsigned caller without a conversation
        # token is a new anonymous visitor, i.e. a new conversation (and service session) for
        # every message, while Rasa alone keeps one tracker per session.
        from api.core.config import DEV_SECRETS
        from api.core.identity import identity_hash  # the bank's server signs its cardholders

        secret = self.env.get("WEB_IDENTITY_SECRET") or DEV_SECRETS["web_identity_secret"]
        return {"user_id": user, "text": text, "identity_hash": identity_hash(user, secret)}

    def cpu_groups(self) -> dict[str, list[int]]:
        # Both API programs: either may hold the serving role (the warm standby takes over
        # after a crash, and wins the lock when it starts first); the other one idles.
        procs = httpx.get(f"{self.api}/health", timeout=10).json()["processes"]
        return {"api": [int(p["pid"]) for n, p in procs.items() if n.startswith("api")],
                "rasa": [self.pid("rasa")], "actions": [self.pid("actions")]}

    def _signal(self, name: str, how: str) -> float:
        pid = self.pid(name)
        if how == "stop":
            os.kill(pid, signal.SIGSTOP)
            time.sleep(FAULT_SECONDS)
            os.kill(pid, signal.SIGCONT)
            return time.monotonic()
        os.kill(pid, signal.SIGKILL)  # the supervisor restarts it
        time.sleep(1)
        deadline = time.monotonic() + 240
        while not self.healthy() and time.monotonic() < deadline:
            time.sleep(0.5)
        return time.monotonic()

    def faults(self) -> list[tuple[str, Callable[[], float]]]:
        """(label, inject): inject() breaks a part and returns when it is back."""
        return [(f"{'SIGSTOP' if how == 'stop' else 'kill -9'} {name}",
                 lambda name=name, how=how: self._signal(name, how))
                for name, how in (("rasa", "stop"), ("actions", "stop"), ("actions", "kill"),
                                  ("rasa", "kill"))]


async def _load(target: str, stack: Any, rate: float, seconds: float,
                think: tuple[float, float], seed: int,
                during: Callable[[], Any] | None = None) -> tuple[list[dict[str, Any]], Any]:
    """Open-loop sessions at `rate` messages/s for `seconds`; one record per message."""
    # Arrivals and each session draw from their own generators: the traffic of a seed is the
    # same whatever the replies' timing (both targets of a rate get identical sessions).
    arrivals = random.Random(seed)
    records: list[dict[str, Any]] = []
    weights = [w for _, _, w in MIX]
    t0 = time.monotonic()
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one(user: str, kind: str, text: str) -> None:
            started = time.monotonic()
            rec: dict[str, Any] = {"t": started - t0, "kind": kind}
            try:
                if target == "gateway":
                    resp = await client.post(f"{stack.api}/api/v1/chat",
                                             json=stack.chat_body(user, text))
                    body = resp.json() if resp.status_code == 200 else {}
                    rec["degraded"] = bool((body.get("details") or {}).get("degraded"))
                else:
                    resp = await client.post(f"{stack.rasa}/webhooks/rest/webhook",
                                             json={"sender": user, "message": text})
                    rec["degraded"] = False
                rec["status"] = resp.status_code
            except httpx.HTTPError as exc:
                rec["status"] = 0
                rec["error"] = type(exc).__name__
            rec["latency"] = time.monotonic() - started
            records.append(rec)

        async def session(i: int) -> None:
            user = f"load-{seed}-{i}"
            rng = random.Random(f"{seed}-{i}")
            for j in range(MESSAGES):
                kind, text, _ = rng.choices(MIX, weights)[0]
                await one(user, kind, text)
                if j < MESSAGES - 1:
                    await asyncio.sleep(rng.uniform(*think))

        sessions: list[asyncio.Task[None]] = []
        side = asyncio.create_task(asyncio.to_thread(during)) if during else None
        i = 0
        next_at = arrivals.expovariate(rate / MESSAGES)
        while next_at < seconds:  # a schedule, so a slow loop does not thin the arrivals
            await asyncio.sleep(max(0.0, next_at - (time.monotonic() - t0)))
            sessions.append(asyncio.create_task(session(i)))
            i += 1
            next_at += arrivals.expovariate(rate / MESSAGES)
        await asyncio.gather(*sessions)
        side_result = await side if side is not None else None
    return records, (side_result - t0 if isinstance(side_result, float) else None)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc; 0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _with_children(pid: int) -> list[int]:
    """A process and its children (nginx: the master and its worker, which does the work)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *(int(c) for c in children)]


def _cpu(groups: dict[str, list[int]]) -> dict[str, float]:
    return {name: sum(_cpu_seconds(p) for p in pids) for name, pids in groups.items()}


def _measured(stack: Any, records_of: Callable[[], list[dict[str, Any]]]) -> dict[str, Any]:
    """A step's summary plus the CPU its messages cost per process group (ms per message):
    the API's own cost is what the gateway adds; the KB search the action server calls runs
    in the API in both the gateway and the Rasa-alone steps."""
    groups = stack.cpu_groups()
    before = _cpu(groups)
    records = records_of()
    after = _cpu(groups)
    s = _summary(records)
    for name in groups:
        s[f"{name}_cpu_ms_per_msg"] = (round(1000 * (after[name] - before[name]) / len(records), 1)
                                      if records else None)
    return s


def _summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in records if r["status"] == 200]
    lat = [r["latency"] for r in ok]
    faq = [r["latency"] for r in ok if r["kind"] == "faq"]
    return {"messages": len(records), "ok": len(ok),
            "5xx": sum(1 for r in records if r["status"] >= 500),
            "429": sum(1 for r in records if r["status"] == 429),
            "errors": sum(1 for r in records if r["status"] == 0),
            "degraded": sum(1 for r in ok if r.get("degraded")),
            "p50_s": _pct(lat, 0.5), "p95_s": _pct(lat, 0.95), "p99_s": _pct(lat, 0.99),
            "max_s": max(lat) if lat else None, "faq_p99_s": _pct(faq, 0.99)}


class ProductionStack:
    """The production topology on loopback (bench/topology.py) on a private PostgreSQL and
    Redis (ports BASE+20, BASE+21, data under the run's temporary directory), so this bench
    may restart them; Rasa alone = the internal nginx upstream in front of both Rasa replicas."""

    def __init__(self, tmp: Path) -> None:
        from bench.topology import Topology

        self.tmp = tmp
        self.pg_port, self.redis_port = BASE_PORT + 20, BASE_PORT + 21
        self.pg_data = tmp / "pg"
        self.topo = Topology(tmp, BASE_PORT, pg_port=self.pg_port, redis_port=self.redis_port,
                             redis_db=0, db_prefix="i17c_load_", extra_env={
                                 "RATE_LIMIT_STORAGE_URL": f"redis://127.0.0.1:{self.redis_port}/1",
                                 # every simulated cardholder comes from 127.0.0.1 through nginx:
                                 # the per-IP limits would count them as one client (signed,
                                 # they never count as new visitors; lifted like stack_env's)
                                 "RATE_LIMIT_CHAT_PER_IP": "100000/minute",
                                 "RATE_LIMIT_CHAT_NEW_VISITORS_PER_IP": "100000/minute",
                                 "LOG_LEVEL": "WARNING"})
        self.api = self.topo.public
        self.rasa = self.topo.internal
        self.redis: subprocess.Popen[bytes] | None = None

    # ---- private PostgreSQL and Redis (never the machine's shared ones)

    def _pg(self, *args: str) -> None:
        binary = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not binary:
            raise Skip("PostgreSQL binaries not found under /usr/lib/postgresql")
        cmd = [str(binary[-1]), *args]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start_pg(self) -> None:
        self._pg("-D", str(self.pg_data), "-l", str(self.tmp / "pg.log"), "-w", "-o",
                 f"-p {self.pg_port} -k {self.tmp} -c listen_addresses=127.0.0.1 "
                 "-c max_connections=200", "start")

    def restart_pg(self) -> float:
        self._pg("-D", str(self.pg_data), "-m", "fast", "-w", "stop")
        time.sleep(1)
        self.start_pg()
        return time.monotonic()

    def start_redis(self) -> None:
        log = open(self.tmp / "redis.log", "ab")  # noqa: SIM115 - closed with the process
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        import redis

        for _ in range(50):
            try:
                redis.Redis(port=self.redis_port, socket_connect_timeout=1).ping()
                return
            except redis.RedisError:
                time.sleep(0.2)
        raise RuntimeError("private Redis did not start")

    def restart_redis(self) -> float:
        assert self.redis is not None
        self.redis.terminate()
        self.redis.wait(timeout=30)
        time.sleep(1)
        self.start_redis()
        return time.monotonic()

    # ---- the stack

    def start(self, timeout: float = 600) -> None:
        if shutil.which("redis-server") is None or shutil.which("nginx") is None and not Path(
                "/usr/sbin/nginx").exists():
            raise Skip("the production variant needs redis-server and nginx (Debian packages)")
        self.pg_data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.tmp, "postgres")
            shutil.chown(self.pg_data, "postgres")
        initdb = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not initdb:
            raise Skip("PostgreSQL binaries not found under /usr/lib/postgresql")
        cmd = [str(initdb[-1]), "-D", str(self.pg_data), "-U", "postgres", "--auth=trust",
               "-E", "UTF8", "--no-locale"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        self.start_pg()
        self.start_redis()
        self.topo.recreate_databases()
        self.topo.deploy()
        self.topo.start_all(timeout)

    def stop(self) -> None:
        self.topo.stop_all()
        if self.redis is not None and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(timeout=30)
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._pg("-D", str(self.pg_data), "-m", "fast", "-w", "stop")

    def healthy(self) -> bool:
        try:
            return all(httpx.get(f"{u}/health", timeout=5).status_code == 200
                       for u in self.topo.api.values())
        except httpx.HTTPError:
            return False

    def user_lines(self) -> int:
        import psycopg2

        conn = psycopg2.connect(dbname=self.topo.dbs["app"], host="127.0.0.1",
                                port=self.pg_port, user="postgres")
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM messages WHERE sender='user'")
                return int(cur.fetchone()[0])
        finally:
            conn.close()

    def chat_body(self, user: str, text: str) -> dict[str, Any]:
        from api.core.identity import identity_hash  # the bank's server signs its cardholders

        return {"user_id": user, "text": text,
                "identity_hash": identity_hash(user, self.topo.identity_secret)}

    def cpu_groups(self) -> dict[str, list[int]]:
        procs = self.topo.procs
        return {"api": [procs["api1"].pid, procs["api2"].pid],
                "rasa": [procs["rasa1"].pid, procs["rasa2"].pid],
                "actions": [procs["actions"].pid], "nginx": _with_children(procs["nginx"].pid)}

    def _up(self, name: str, timeout: float = 300) -> None:
        url = {"api1": f"{self.topo.api['api1']}/health",
               "actions": f"http://127.0.0.1:{self.topo.ports['actions']}/health"}.get(
                   name, f"http://127.0.0.1:{self.topo.ports.get(name, 0)}/")
        self.topo.wait(url, timeout)
        if name.startswith("rasa"):
            self.topo.warm_rasa(name)

    def _signal(self, name: str, how: str) -> float:
        if how == "stop":
            self.topo.kill(name, signal.SIGSTOP)
            time.sleep(FAULT_SECONDS)
            self.topo.kill(name, signal.SIGCONT)
            return time.monotonic()
        self.topo.kill(name, signal.SIGKILL)
        time.sleep(1)  # compose's restart policy: start it again
        self.topo.start(name)
        self._up(name)
        return time.monotonic()

    def faults(self) -> list[tuple[str, Callable[[], float]]]:
        out: list[tuple[str, Callable[[], float]]] = [
            (f"{'SIGSTOP' if how == 'stop' else 'kill -9'} {name}",
             lambda name=name, how=how: self._signal(name, how))
            for name, how in (("rasa1", "stop"), ("rasa1", "kill"), ("actions", "stop"),
                              ("actions", "kill"), ("api1", "kill"))]
        return [*out, ("Redis restart", self.restart_redis),
                ("PostgreSQL restart", self.restart_pg)]


def _passes(s: dict[str, Any]) -> bool:
    return s["p99_s"] is not None and s["p99_s"] <= P99_TARGET and not (s["5xx"] or s["errors"])


# The capacity search stops here: a target that passes it is reported as "at least" this.
CEILING = 40.0


def capacity_search(measure: Callable[[float], dict[str, Any]], start: float = 1.0,
                    step: float = 1.0, resolution: float = 0.25,
                    ceiling: float = CEILING) -> float | None:
    """The highest rate whose step passes (p99 <= 2 s, no 5xx, no error): steps of `step`
    from `start` to the first failure, then bisection until the bracket is `resolution` wide.
    None when even `resolution` msg/s fails."""
    passed, failed = 0.0, None
    rate = start
    while rate <= ceiling:
        if _passes(measure(rate)):
            passed = rate
            rate += step
        else:
            failed = rate
            break
    if failed is None:
        return passed
    while failed - passed > resolution:
        mid = round((passed + failed) / 2 / resolution) * resolution
        if mid in (passed, failed):
            break
        if _passes(measure(mid)):
            passed = mid
        else:
            failed = mid
    return passed or None


def run(seconds: float = 20.0, think: tuple[float, float] = (2.0, 6.0),
        topology: str = "embedded", log: Callable[[str], None] = print,
        step: float = 1.0) -> dict[str, Any]:
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-load-{topology}-"))
    stack: Any = ProductionStack(tmp) if topology == "production" else Stack(tmp)
    log(f"  starting the {topology} stack on :{BASE_PORT}.. ({tmp})")
    stack.start()
    out: dict[str, Any] = {"topology": topology, "steps": {}, "faults": {}}
    # The same seed (arrivals, think times, texts) for both targets at one rate: the two runs
    # of a rate see the same traffic, only the box's load differs.
    seed = 9000
    try:
        capacity: dict[str, float | None] = {}
        for target in ("rasa", "gateway"):
            def measure(rate: float, target: str = target) -> dict[str, Any]:
                s = _measured(stack, lambda: asyncio.run(
                    _load(target, stack, rate, seconds, think, 1000 + int(rate * 100)))[0])
                out["steps"][f"{target}@{rate:g}"] = s
                log(f"  {target} {rate:g} msg/s: {s}")
                return s

            capacity[target] = capacity_search(measure, step=step)
        out["capacity"] = capacity
        out["capacity_at_ceiling"] = sorted(k for k, v in capacity.items() if v == CEILING)
        out["capacity_ratio"] = (round(capacity["gateway"] / capacity["rasa"], 3)
                                 if capacity["gateway"] and capacity["rasa"] else None)
        half = max((capacity["gateway"] or 1.0) / 2, 0.5)
        out["half_rate"] = half
        for target in ("rasa", "gateway"):
            out["steps"][f"{target}@half"] = _measured(
                stack, lambda target=target: asyncio.run(
                    _load(target, stack, half, seconds, think, 5000 + int(half * 100)))[0])
            log(f"  {target} half {half:g} msg/s: {out['steps'][f'{target}@half']}")
        halves = out["steps"]["gateway@half"], out["steps"]["rasa@half"]
        out["p50_ratio_at_half"] = (round(halves[0]["p50_s"] / halves[1]["p50_s"], 3)
                                    if halves[0]["p50_s"] and halves[1]["p50_s"] else None)

        def inject_after(fn: Callable[[], float]) -> Callable[[], float]:
            def go() -> float:
                time.sleep(3)
                return fn()
            return go

        for label, fn in stack.faults():
            seed += 1
            before = stack.user_lines()
            t_fault = time.monotonic()
            records, back_t = asyncio.run(_load("gateway", stack, half, seconds, think, seed,
                                                during=inject_after(fn)))
            s = _summary(records)
            accepted = sum(1 for r in records if r["status"] == 200)
            s["lost"] = accepted - (stack.user_lines() - before)
            # recovery: from the part being back (SIGCONT, restarted and healthy) to the last
            # degraded or failed reply of the run (0 when none came after it)
            bad_t = [r["t"] for r in records if r.get("degraded") or r["status"] != 200]
            s["back_at_s"] = round(back_t, 1) if back_t is not None else None
            s["recovered_after_s"] = (round(max(0.0, max(bad_t) - back_t), 1)
                                      if bad_t and back_t is not None else 0.0)
            out["faults"][label] = s
            log(f"  fault {label}: {s}")
            while not stack.healthy() and time.monotonic() - t_fault < 300:
                time.sleep(1)
        seed += 1
        over = 2 * (capacity["gateway"] or 1.0)
        out["overload_rate"] = over
        out["overload"] = _summary(asyncio.run(_load("gateway", stack, over, seconds, think,
                                                     seed))[0])
        log(f"  overload {over:g} msg/s: {out['overload']}")
    finally:
        stack.stop()
    name = "load" if topology == "embedded" else "load_production"
    payload = base_payload(name, ("httpx", "fastapi", "uvicorn", "supervisor"))
    payload.update(out)
    payload.update({"runtime_s": time.perf_counter() - started, "seconds_per_step": seconds,
                    "think_s": list(think), "messages_per_session": MESSAGES,
                    "load_avg_1m": os.getloadavg()[0]})
    cols = ("messages", "ok", "5xx", "429", "errors", "degraded", "p50_s", "p95_s", "p99_s",
            "max_s", "faq_p99_s")
    fault_cols = (*cols, "lost", "back_at_s", "recovered_after_s")
    cpu_cols = tuple(sorted({k for v in out["steps"].values() for k in v
                             if k.endswith("_cpu_ms_per_msg")}))
    where = ("the production topology on loopback (nginx, 2 API, 2 Rasa, actions, private "
             "PostgreSQL and Redis)" if topology == "production" else
             "the embedded default (supervisor, SQLite)")
    at_ceiling = (f"; {', '.join(out['capacity_at_ceiling'])} passed the search's ceiling "
                  f"({CEILING:g} msg/s): at least that" if out.get("capacity_at_ceiling") else "")
    markdown = "\n".join([
        header_md(f"Load and faults, {topology} (`python -m bench load --topology {topology}`)",
                  payload),
        f"- stack: {where}; Rasa alone = its REST webhook "
        f"({'nginx in front of both replicas' if topology == 'production' else 'one server'})",
        f"- load average (1 min) after the run: {payload['load_avg_1m']:.2f}",
        f"- open-loop sessions of {MESSAGES} messages, think {think[0]:g}-{think[1]:g} s, "
        f"{seconds:g} s of arrivals per step; mix {[(k, t) for k, t, _ in MIX]}",
        f"- capacity search: steps of {step:g} msg/s to the first failing one, then bisection to "
        "0.25 msg/s (one step per rate: on a shared machine a step can fail by noise)", "",
        f"Capacity (p99 <= {P99_TARGET:g} s, no error): gateway "
        f"{capacity['gateway']} msg/s, Rasa REST alone {capacity['rasa']} msg/s "
        f"(ratio {out['capacity_ratio']}{at_ceiling}). p50 at half capacity: gateway/Rasa "
        f"{out['p50_ratio_at_half']}.", "",
        "## Steps", "",
        md_table(("step", *cols, *cpu_cols),
                 [(k, *(v[c] for c in cols), *(v.get(c) for c in cpu_cols))
                  for k, v in out["steps"].items()]),
        "", "`*_cpu_ms_per_msg`: CPU seconds the processes used during the step, per message "
        "(the KB search the action server calls runs in the API in both kinds of step).",
        "", f"## Faults at half capacity ({half:g} msg/s, gateway)", "",
        "Each fault 3 s after the arrivals begin; `back_at_s` = when the part was back "
        "(SIGCONT after 15 s, or restarted and healthy); `recovered_after_s` = last degraded or "
        "failed reply after that; `lost` = 200s whose user line is not in the transcript.", "",
        md_table(("fault", *fault_cols),
                 [(k, *(v.get(c) for c in fault_cols)) for k, v in out["faults"].items()]),
        "", f"## Overload at 2x capacity ({over:g} msg/s, gateway)", "",
        md_table(cols, [[out["overload"][c] for c in cols]]),
    ])
    write_result(name, payload, markdown)
    log(markdown)
    return payload


if __name__ == "__main__":
    run()
