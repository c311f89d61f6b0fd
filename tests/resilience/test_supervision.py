"""`make run`'s supervisor: after kill -9 of any process it is restarted without a hand, the
others keep running (same pids), /health counts the restart, and SIGTERM (what Ctrl-C becomes)
stops everything.

What is asserted: after the kill, /health is 200 and an FAQ question gets a bot (non-degraded)
answer without a hand, for the serving API (the warm standby API takes over), Rasa (the client
fails over to the standby) and the action server. The bound here is generous (a loaded CI
machine); the 15 s target is measured by `python -m bench restart`, which also kills the
standbys (bench/results/restart.md). The killed process itself
loads models again (TensorFlow; torch + the KB index), which takes longer than 15 s on a busy
2-core machine: the redundancy being back (every process running, the standby API warm, both
Rasa servers up) has the startup bound. Each measured time is printed (`-s`).

Starts the real five processes under `python -m api supervise` on spare ports
(E2E_PORT + 20 .. + 23) with a temporary data directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api import supervision

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SVC_PY = Path(sys.executable)
STARTUP_TIMEOUT = float(os.environ.get("E2E_STARTUP_TIMEOUT", "300"))
RECOVERY_SECONDS = 60.0  # a functional bound, not the target (see the docstring)
REDUNDANT_WITHIN = 240.0  # the killed process loaded again (see the module docstring)


class Supervised:
    def __init__(self, tmp: Path, base_port: int) -> None:
        self.tmp = tmp
        api_port = base_port + 2
        self.base_url = f"http://127.0.0.1:{api_port}"
        self.env = {
            **os.environ, "PYTHONPATH": str(ROOT), "APP_ENV": "test", "DATA_DIR": str(tmp),
            "DATABASE_URL": f"sqlite:///{tmp}/app.db", "TRACKER_DB_DIALECT": "sqlite",
            "TRACKER_DB": str(tmp / "tracker.db"), "CARD_DB_URL": f"sqlite:///{tmp}/cards.db",
            "RASA_PORT": str(base_port), "RASA_URL": f"http://127.0.0.1:{base_port}",
            "RASA_STANDBY_PORT": str(base_port + 3),
            "ACTIONS_PORT": str(base_port + 1),
            "ACTIONS_URL": f"http://127.0.0.1:{base_port + 1}/webhook",
            "SANIC_HOST": "127.0.0.1", "CARDBOT_API_PORT": str(api_port),
            "PORT": str(api_port), "HOST": "127.0.0.1",
            "KB_SEARCH_URL": f"{self.base_url}/internal/v1/kb/search",
            "TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.tmp / "supervisor.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen([str(SVC_PY), "-m", "api", "supervise"], cwd=ROOT,
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def health(self) -> tuple[int, dict[str, Any]]:
        resp = httpx.get(f"{self.base_url}/health", timeout=10)
        return resp.status_code, resp.json()

    def wait_healthy(self, timeout: float) -> dict[str, Any]:
        """Until /health is 200 with every process running, the standby API warm and every
        Rasa server up (full redundancy)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.logs()
            try:
                code, last = self.health()
                procs = last.get("processes", {}).values()
                servers = last["components"]["rasa"].get("servers", {}).values()
                if (code == 200 and all(p["state"] == "running" for p in procs)
                        and all(p.get("role") != "warming" for p in procs)
                        and all(v["state"] == "up" for v in servers)):
                    return last
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                last = repr(exc)
            time.sleep(0.5)
        raise AssertionError(f"not healthy within {timeout}s: {last}\n{self.logs()}")

    def wait_answering(self, timeout: float, user: str) -> float:
        """Seconds until /health is 200 and an FAQ question gets a bot (not degraded) answer."""
        started = time.monotonic()
        answered = healthy = False
        tries = 0
        while time.monotonic() - started < timeout:
            tries += 1
            try:
                if not answered:
                    resp = httpx.post(f"{self.base_url}/api/v1/chat", timeout=5,
                                      json={"user_id": f"{user}-{tries}", "text": "年费怎么收"})
                    body = resp.json() if resp.status_code == 200 else {}
                    answered = (body.get("outcome") == "answered"
                                and not body.get("details", {}).get("degraded"))
                healthy = healthy or self.health()[0] == 200
            except (httpx.HTTPError, ValueError):
                pass
            if answered and healthy:
                return time.monotonic() - started
            time.sleep(0.25)
        raise AssertionError(f"no bot answer and healthy within {timeout}s\n{self.logs()}")

    def logs(self, tail: int = 80) -> str:
        path = self.tmp / "supervisor.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return "\n".join(lines[-tail:])

    def stop(self) -> int:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervised]:
    base = int(os.environ.get("E2E_PORT", "18005")) + 20
    s = Supervised(tmp_path_factory.mktemp("supervised"), base)
    subprocess.run([str(SVC_PY), "-m", "api", "migrate"], cwd=ROOT, env=s.env, check=True)
    s.start()
    try:
        s.wait_healthy(STARTUP_TIMEOUT)
        yield s
    finally:
        if s.proc is not None and s.proc.poll() is None:
            s.stop()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# The standbys' own kills are in the restart benchmark: each one here waits for the killed
# process to load its models again, minutes of CI.
@pytest.mark.parametrize("victim", ["actions", "api (serving)", "rasa"])
def test_kill_9_is_healed_without_a_hand(supervised: Supervised, victim: str) -> None:
    before = supervised.wait_healthy(REDUNDANT_WITHIN)["processes"]
    if victim.startswith("api"):
        role = victim.split("(")[1].rstrip(")")
        name = next(n for n, p in before.items() if p.get("role") == role)
    else:
        name = victim
    others = {n: p["pid"] for n, p in before.items() if n != name}
    os.kill(before[name]["pid"], signal.SIGKILL)
    took = supervised.wait_answering(RECOVERY_SECONDS, f"sup-{name}")
    print(f"{victim}: bot answers and /health 200 {took:.1f} s after kill -9")
    after = supervised.wait_healthy(REDUNDANT_WITHIN)["processes"]
    assert after[name]["pid"] != before[name]["pid"]
    assert after[name]["restarts"] == before[name]["restarts"] + 1
    assert after[name]["crashes"] >= before[name]["crashes"] + 1
    # The others were not touched: same pids, still running.
    assert {n: after[n]["pid"] for n in others} == others
    if victim == "api (serving)":  # the standby took over; the restarted one is the standby
        assert after[name]["role"] == "standby"


def test_sigterm_stops_every_process(supervised: Supervised) -> None:
    procs = supervised.wait_healthy(REDUNDANT_WITHIN)["processes"]
    pids = [p["pid"] for p in procs.values()]
    assert supervised.stop() == 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
        time.sleep(0.2)
    assert not any(_pid_alive(p) for p in pids)
    assert not (supervised.tmp / "supervisor" / supervision.SOCKET_NAME).exists()
