"""`make run`'s supervisor: after kill -9 of any process it is restarted without a hand, the
others keep running (same pids), /health counts the restart, and SIGTERM (what Ctrl-C becomes)
stops everything.

Bounds: the action server is back (/health 200) within 15 s. Rasa and the API load models at
start (TensorFlow; torch + the KB index), which takes longer than 15 s on a busy 2-core machine:
their bound is the startup bound, and each measured time is printed (`-s`). While Rasa is down
the chat keeps answering in degraded mode within the bot budget, which is asserted.

Starts the real three processes under `python -m api supervise` on spare ports
(E2E_PORT + 20 .. + 22) with a temporary data directory.
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
from api.core.config import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SVC_PY = Path(sys.executable)
STARTUP_TIMEOUT = float(os.environ.get("E2E_STARTUP_TIMEOUT", "300"))
RECOVERY_SECONDS = 15.0
# Seconds until /health is 200 again after kill -9 (see the module docstring).
HEALED_WITHIN = {"actions": RECOVERY_SECONDS, "rasa": 120.0, "api": 120.0}


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
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.logs()
            try:
                code, last = self.health()
                if code == 200 and all(p["state"] == "running"
                                       for p in last.get("processes", {}).values()):
                    return last
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.5)
        raise AssertionError(f"not healthy within {timeout}s: {last}\n{self.logs()}")

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


@pytest.mark.parametrize("name", ["actions", "api", "rasa"])
def test_kill_9_is_healed_within_15_s(supervised: Supervised, name: str) -> None:
    before = supervised.wait_healthy(RECOVERY_SECONDS)["processes"]
    others = {n: p["pid"] for n, p in before.items() if n != name}
    os.kill(before[name]["pid"], signal.SIGKILL)
    killed_at = time.monotonic()
    if name == "rasa":  # the cardholder still gets answers meanwhile (degraded mode)
        time.sleep(0.5)
        started = time.monotonic()
        resp = httpx.post(f"{supervised.base_url}/api/v1/chat", timeout=30,
                          json={"user_id": "sup-1", "text": "年费怎么收"})
        took = time.monotonic() - started
        assert resp.status_code == 200 and resp.json()["details"].get("degraded") is True
        # not the old RASA_TIMEOUT wait: the KB answers (on a busy machine a KB query after a
        # restart can take a few seconds; the figure is printed)
        assert took < Settings().rasa_timeout / 2
        print(f"degraded answer while Rasa is down: {took:.1f} s")
    after = supervised.wait_healthy(HEALED_WITHIN[name])["processes"]
    took = time.monotonic() - killed_at
    assert after[name]["pid"] != before[name]["pid"]
    assert after[name]["restarts"] == before[name]["restarts"] + 1
    assert after[name]["crashes"] >= before[name]["crashes"] + 1
    # The others were not touched: same pids, still running.
    assert {n: after[n]["pid"] for n in others} == others
    print(f"{name}: healthy again {took:.1f} s after kill -9")


def test_sigterm_stops_every_process(supervised: Supervised) -> None:
    procs = supervised.wait_healthy(max(HEALED_WITHIN.values()))["processes"]
    pids = [p["pid"] for p in procs.values()]
    assert supervised.stop() == 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
        time.sleep(0.2)
    assert not any(_pid_alive(p) for p in pids)
    assert not (supervised.tmp / "supervisor" / supervision.SOCKET_NAME).exists()
