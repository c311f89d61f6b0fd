"""The embedded default under its supervisor (`python -m api supervise`, what `make run` starts),
on spare loopback ports and a temporary data directory.

One definition of that stack for the restart benchmark (`bench/restart.py`) and the supervision
test (`tests/resilience/test_supervision.py`), so both kill and probe the same thing. Ports:
Rasa ``base``, the action server ``base + 1``, the API ``base + 2``, the standby Rasa ``base + 3``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from bench.common import REPO_ROOT

LOG_NAME = "stack.log"


def stack_env(tmp: Path, base_port: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a supervised embedded stack in ``tmp`` on ports ``base_port`` .. +3."""
    api = f"http://127.0.0.1:{base_port + 2}"
    env = {
        **os.environ, "PYTHONPATH": str(REPO_ROOT), "APP_ENV": "test", "DATA_DIR": str(tmp),
        "DATABASE_URL": f"sqlite:///{tmp}/app.db", "TRACKER_DB_DIALECT": "sqlite",
        "TRACKER_DB": str(tmp / "tracker.db"), "CARD_DB_URL": f"sqlite:///{tmp}/cards.db",
        "RASA_PORT": str(base_port), "RASA_URL": f"http://127.0.0.1:{base_port}",
        "RASA_STANDBY_PORT": str(base_port + 3),
        "ACTIONS_PORT": str(base_port + 1),
        "ACTIONS_URL": f"http://127.0.0.1:{base_port + 1}/webhook",
        "SANIC_HOST": "127.0.0.1", "HOST": "127.0.0.1",
        "CARDBOT_API_PORT": str(base_port + 2), "PORT": str(base_port + 2),
        "KB_SEARCH_URL": f"{api}/internal/v1/kb/search",
        "TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        # Every probe and simulated caller comes from 127.0.0.1, and the probes (`chat`, the
        # restart bench, tests/resilience) open a new anonymous visitor per try: the limit on
        # new visitors per address would count them as one client flooding (it is tested in
        # tests/api/test_chat_visitor_flood.py, and stays as shipped for `make run`).
        "RATE_LIMIT_CHAT_NEW_VISITORS_PER_IP": "100000/minute",
        **(extra or {}),
    }
    env.pop("RASA_STANDBY_URL", None)  # follows RASA_STANDBY_PORT
    return env


def fully_redundant(body: Mapping[str, Any]) -> bool:
    """Every supervised process running, no API still warming up, every Rasa server up with
    its model (what a kill must wait for before the next one)."""
    procs = body.get("processes") or {}
    servers = ((body.get("components") or {}).get("rasa") or {}).get("servers") or {}
    return (bool(procs) and all(p.get("state") == "running" for p in procs.values())
            and all(p.get("role") != "warming" for p in procs.values())
            and all(v.get("state") == "up" for v in servers.values()))


class SupervisedStack:
    """Start, probe and stop one supervised embedded stack."""

    def __init__(self, tmp: Path, base_port: int,
                 extra_env: Mapping[str, str] | None = None) -> None:
        self.tmp = tmp
        self.base_url = f"http://127.0.0.1:{base_port + 2}"
        self.env = stack_env(tmp, base_port, extra_env)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Migrate the temporary databases, then start the supervisor in its own session (so a
        stop can reach the whole process group)."""
        subprocess.run([sys.executable, "-m", "api", "migrate"], cwd=REPO_ROOT, env=self.env,
                       check=True, capture_output=True)
        log = open(self.tmp / LOG_NAME, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen([sys.executable, "-m", "api", "supervise"], cwd=REPO_ROOT,
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM (what Ctrl-C sends to `make run`); the supervisor's exit code, or None when
        it was not running. A supervisor that hangs is killed with its group."""
        if not self.running():
            return None
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise

    def health(self, timeout: float = 3) -> tuple[int, dict[str, Any]]:
        """(status, body) of GET /health; (0, {}) when the API does not answer."""
        try:
            resp = httpx.get(f"{self.base_url}/health", timeout=timeout)
            return resp.status_code, resp.json()
        except (httpx.HTTPError, ValueError):
            return 0, {}

    def chat(self, user_id: str, text: str, timeout: float = 5) -> str:
        """One turn as a new cardholder: 'bot' (answered through Rasa and the action server, not
        degraded), 'degraded', or 'error' (anything else)."""
        try:
            resp = httpx.post(f"{self.base_url}/api/v1/chat", timeout=timeout,
                              json={"user_id": user_id, "text": text})
        except httpx.HTTPError:
            return "error"
        if resp.status_code != 200:
            return "error"
        body = resp.json()
        if (body.get("details") or {}).get("degraded"):
            return "degraded"
        # answered through the bot: the FAQ action fetched the entry from the API's KB search
        return "bot" if body.get("outcome") == "answered" and body.get("messages") else "error"

    def logs(self, tail: int = 80) -> str:
        path = self.tmp / LOG_NAME
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return "\n".join(lines[-tail:])
