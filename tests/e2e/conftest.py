"""End-to-end fixtures: start the real Rasa server, action server and API on spare ports.

The stack runs with its own temporary data directory (SQLite files, tracker store), so tests
never touch a developer's `var/`. It needs the trained model and the built embedding model,
which `make test` prepares before pytest starts.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.chat_support import signed

ROOT = Path(__file__).resolve().parents[2]
RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"
SVC_PY = Path(sys.executable)
STARTUP_TIMEOUT = float(os.environ.get("E2E_STARTUP_TIMEOUT", "300"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


class Stack:
    """The three processes of a running assistant, started like `make run` starts them."""

    def __init__(self, tmp: Path, base_port: int) -> None:
        self.tmp = tmp
        self.ports = {"rasa": base_port, "actions": base_port + 1, "api": base_port + 2}
        self.base_url = f"http://127.0.0.1:{self.ports['api']}"
        self.rasa_url = f"http://127.0.0.1:{self.ports['rasa']}"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "APP_ENV": "test",
            "DATA_DIR": str(tmp),
            "DATABASE_URL": f"sqlite:///{tmp}/app.db",
            "TRACKER_DB_DIALECT": "sqlite",
            "TRACKER_DB": str(tmp / "tracker.db"),
            "CARD_DB_URL": f"sqlite:///{tmp}/cards.db",
            "RASA_PORT": str(self.ports["rasa"]),
            "RASA_URL": self.rasa_url,
            "ACTIONS_PORT": str(self.ports["actions"]),
            "ACTIONS_URL": f"http://127.0.0.1:{self.ports['actions']}/webhook",
            "SANIC_HOST": "127.0.0.1",
            "PORT": str(self.ports["api"]),
            "HOST": "127.0.0.1",
            "KB_SEARCH_URL": f"{self.base_url}/internal/v1/kb/search",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            # The e2e modules replay whole card flows per cardholder in seconds: per-user and
            # per-conversation limits are tested in tests/security, not here.
            "RATE_LIMIT_CHAT_PER_USER": "1000/minute",
            "RATE_LIMIT_CHAT_PER_CONVERSATION": "1000/minute",
            # ... and they open many anonymous visitors from 127.0.0.1 (test_kb_publish_e2e:
            # 80 in a few seconds): that limit is tested in tests/api/test_chat_visitor_flood.py.
            "RATE_LIMIT_CHAT_NEW_VISITORS_PER_IP": "1000/minute",
            # These tests check the bot's answers: a slow turn on a busy CI machine must not
            # become a degraded one (the budget itself: tests/api/test_degraded.py; Rasa down
            # still degrades at once: test_zz_rasa_down.py).
            "BOT_BUDGET_SECONDS": "15",
        }
        self.commands = {
            "rasa": [str(RASA_PY), "-m", "bot.serve"],
            "actions": [str(RASA_PY), "-m", "rasa_sdk", "--actions", "actions",
                        "--port", str(self.ports["actions"])],
            "api": [str(SVC_PY), "-m", "api"],
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        """Start one process, logging to a file in the temp dir."""
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            self.commands[name], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self, name: str) -> None:
        """Stop one process (its whole process group) and wait for it."""
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def logs(self, name: str, tail: int = 60) -> str:
        path = self.tmp / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-tail:])

    def wait_healthy(self, timeout: float = STARTUP_TIMEOUT) -> dict[str, Any]:
        """Poll /health until every component is up."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{self.logs(name)}")
            try:
                resp = httpx.get(f"{self.base_url}/health", timeout=10)
                last = resp.json()
                if resp.status_code == 200:
                    return last
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(2)
        logs = "\n".join(f"--- {n} ---\n{self.logs(n)}" for n in self.commands)
        raise RuntimeError(f"stack not healthy after {timeout}s: {last}\n{logs}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The real assistant: Rasa + action server + API, healthy before the first test."""
    if not RASA_PY.exists():
        pytest.fail("Rasa runtime missing: run `make test` (it creates both environments)")
    s = Stack(tmp_path_factory.mktemp("stack"), base_port=int(os.environ.get("E2E_PORT", "18005")))
    # Deploy step, as `make run` does it: both databases to the newest schema.
    subprocess.run([str(SVC_PY), "-m", "api", "migrate"], cwd=ROOT, env=s.env, check=True)
    for name in ("actions", "api", "rasa"):
        s.start(name)
    try:
        s.wait_healthy()
        yield s
    finally:
        for name in list(s.procs):
            s.stop(name)


@pytest.fixture()
def chat(stack: Stack) -> Callable[..., dict[str, Any]]:
    """Send one message through POST /api/v1/chat as the signed cardholder `user_id` (the
    bank's server signs it, tests/chat_support.py) and return the JSON reply."""

    def _chat(user_id: str, text: str, channel: str = "web") -> dict[str, Any]:
        resp = httpx.post(f"{stack.base_url}/api/v1/chat",
                          json=signed(user_id, text, channel=channel), timeout=60)
        assert resp.status_code == 200, resp.text
        return resp.json()

    return _chat


def reply_text(reply: dict[str, Any]) -> str:
    """All visible text of a reply, buttons included, for assertions."""
    parts = []
    for m in reply["messages"]:
        parts.append(m.get("text", ""))
        parts.extend(b["title"] for b in m.get("buttons") or [])
    return "\n".join(parts)


@pytest.fixture()
def texts() -> Callable[[dict[str, Any]], str]:
    """`texts(reply)`: all visible text of a chat reply (buttons included)."""
    return reply_text


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser), headless."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("Chromium missing: apt-get install -y chromium fonts-noto-cjk (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking",
                  "--disable-component-update"])
        try:
            yield browser
        finally:
            browser.close()
