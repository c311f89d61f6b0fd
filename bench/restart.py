"""`python -m bench restart`: how fast the embedded default heals after `kill -9` of each process.

Starts the stack like `make run` (supervisord, `python -m api supervise`) on spare loopback ports
(`BENCH_RESTART_PORT`, default 8540 .. 8543) with a temporary data directory, waits until it is
fully healthy, then kills each supervised process in turn with SIGKILL (every process the
supervisor reports: the API, Rasa, the standby Rasa when there is one, the action server) and
measures, from the kill:

- **bot answer**: the first `POST /api/v1/chat` (a new cardholder each try, an FAQ question)
  that comes back 200 with a bot reply that is *not* degraded, i.e. answered through Rasa and
  the action server (the FAQ answer is fetched by an action from the API's KB search);
- **health 200**: the first `GET /health` with HTTP 200 (every component up);
- **all running**: health 200, every supervised process `running` again, no API still warming
  up and every Rasa server up with its model (the redundancy is back; the next kill waits for
  it).

Probes run every `PROBE_INTERVAL` seconds, each bounded; a try that fails just counts as "not
yet". Also reported: the cold start of the whole stack, the degraded answers seen meanwhile,
and each process's resident memory (process group, summed). Long (model loads): not in `all`.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, Skip, base_payload, header_md, md_table, write_result
from bench.supervised import LOG_NAME, SupervisedStack, fully_redundant

BASE_PORT = int(os.environ.get("BENCH_RESTART_PORT", "8540"))
PROBE_INTERVAL = 0.25
GIVE_UP_SECONDS = 180.0
COLD_START_SECONDS = 480.0  # five processes loading models at once on a shared machine
TARGET_SECONDS = 15.0
FAQ = "信用卡年费怎么收"


def _group_rss_mib(pid: int) -> float:
    """Resident memory of a process and its descendants (Rasa and uvicorn fork helpers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def _victims(procs: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, process name) in kill order: the serving API first, then the others."""
    apis = {p.get("role", "serving"): n for n, p in procs.items() if n.startswith("api")}
    out = [("api (serving)" if len(apis) > 1 else "api", apis.get("serving", "api"))]
    out.append(("actions", "actions"))
    if "standby" in apis:
        out.append(("api (standby)", apis["standby"]))
    out += [(n, n) for n in sorted(procs) if n.startswith("rasa")]
    return out


def _wait(stack: SupervisedStack, started: float, log: Callable[[str], None],
          what: str, give_up: float = GIVE_UP_SECONDS) -> dict[str, Any]:
    """Probe until the bot answers, /health is 200 and every process runs (or give up)."""
    out: dict[str, Any] = {"bot_answer_s": None, "health_200_s": None, "all_running_s": None,
                           "degraded_answers": 0, "failed_tries": 0}
    tries = 0
    while time.monotonic() - started < give_up:
        if out["bot_answer_s"] is None:
            tries += 1
            got = stack.chat(f"restart-{os.getpid()}-{what[:12]}-{tries}", FAQ)
            if got == "bot":
                out["bot_answer_s"] = round(time.monotonic() - started, 2)
            elif got == "degraded":
                out["degraded_answers"] += 1
            else:
                out["failed_tries"] += 1
        code, body = stack.health()
        now = round(time.monotonic() - started, 2)
        if code == 200 and out["health_200_s"] is None:
            out["health_200_s"] = now
        if code == 200 and fully_redundant(body) and out["all_running_s"] is None:
            out["all_running_s"] = now
        if None not in (out["bot_answer_s"], out["health_200_s"], out["all_running_s"]):
            break
        time.sleep(PROBE_INTERVAL)
    log(f"  {what}: {out}")
    return out


def run(log: Callable[[str], None] = print, rounds: int = 1) -> dict[str, Any]:
    """Start the stack, kill -9 each process `rounds` times, write bench/results/restart.*."""
    for venv in (".venv-rasa", ".venv-svc"):
        if not (REPO_ROOT / venv / "bin" / "python").exists():
            raise Skip(f"{venv} missing: create the virtual environments first")
    if not any((REPO_ROOT / "bot" / "models").glob("*.tar.gz")):
        raise Skip("no trained Rasa model in bot/models: train first")
    payload = base_payload("restart", ["rasa", "supervisor", "uvicorn", "torch"])
    tmp = tempfile.mkdtemp(prefix="bench-restart-")  # kept when the stack fails (its log)
    stack = SupervisedStack(Path(tmp), BASE_PORT, {"LOG_LEVEL": "WARNING"})
    started = time.monotonic()
    stack.start()
    try:
        cold = _wait(stack, started, log, "cold start", COLD_START_SECONDS)
        if cold["all_running_s"] is None or cold["bot_answer_s"] is None:
            raise Skip(f"the stack did not become healthy within {COLD_START_SECONDS:.0f} s:"
                       f" see {tmp}/{LOG_NAME}")
        time.sleep(5)  # let the warm-ups settle before the first kill
        procs = stack.health()[1]["processes"]
        memory = {name: _group_rss_mib(p["pid"]) for name, p in procs.items()}
        log(f"  memory (MiB): {memory}")
        kills: list[dict[str, Any]] = []
        for r in range(rounds):
            for label, _ in _victims(procs):
                procs = stack.health()[1]["processes"]
                name = dict(_victims(procs))[label]
                pid = procs[name]["pid"]
                os.kill(pid, signal.SIGKILL)
                t0 = time.monotonic()
                item = {"process": label, "round": r + 1,
                        **_wait(stack, t0, log, f"kill -9 {label} (pid {pid})")}
                kills.append(item)
                time.sleep(3)
        stopped_at = time.monotonic()
        exit_code = stack.stop()
        stop_s = round(time.monotonic() - stopped_at, 2)
        # how each process went at the SIGTERM (a SIGKILL after stopwaitsecs shows here)
        try:
            sup_log = (Path(tmp) / "supervisor" / "supervisord.log").read_text(errors="replace")
        except OSError:
            sup_log = ""
        stopped = [line.split(" ", 3)[-1] for line in sup_log.splitlines()
                   if "stopped:" in line or "waiting for" in line][-12:]
    finally:
        stack.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    payload.update({
        "probe_interval_s": PROBE_INTERVAL, "target_s": TARGET_SECONDS, "faq": FAQ,
        "cold_start": cold, "memory_mib": memory, "kills": kills,
        "sigterm": {"exit_code": exit_code, "seconds": stop_s, "supervisord": stopped},
    })
    rows = [[k["process"], k["round"], k["bot_answer_s"], k["health_200_s"], k["all_running_s"],
             k["degraded_answers"], k["failed_tries"]] for k in kills]
    md = header_md("Restart after kill -9 (embedded default, `make run`)", payload)
    md += ("\nSeconds from `kill -9` of one process until: a chat FAQ question gets a bot "
           "(non-degraded) answer; `/health` is 200; every supervised process is running again."
           f" Target: {TARGET_SECONDS:g} s. Probes every {PROBE_INTERVAL:g} s.\n\n")
    md += md_table(["killed", "round", "bot answer s", "health 200 s", "all running s",
                    "degraded answers meanwhile", "failed tries"], rows)
    md += (f"\n\nCold start of the whole stack: bot answer {cold['bot_answer_s']} s, health 200 "
           f"{cold['health_200_s']} s, all running {cold['all_running_s']} s.\n\n"
           "Resident memory per supervised process (MiB, with its children): "
           + ", ".join(f"{n} {m}" for n, m in memory.items())
           + f".\n\nSIGTERM to the supervisor (what Ctrl-C sends): exit code {exit_code}, "
           f"{stop_s} s" + (": " + "; ".join(stopped) if stopped else "") + ".\n")
    write_result("restart", payload, md)
    return payload
