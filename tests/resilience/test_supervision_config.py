"""The supervisord config and the restart counter, without starting anything."""

from __future__ import annotations

import configparser
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from api import supervision

ROOT = Path(__file__).resolve().parents[2]


def _parse(conf: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read(conf)
    return parser


def _env_of(section: configparser.SectionProxy) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in section.get("environment", "").split(",") if item)
    return {k: v.strip('"') for k, v in pairs}


def test_config_restarts_every_process_as_a_group(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path), "ACTIONS_PORT": "18321", "CARDBOT_API_PORT": "18322",
           "RASA_PORT": "18320"}
    parser = _parse(supervision.write_config(env))
    names = {s.split(":", 1)[1] for s in parser.sections() if s.startswith("program:")}
    assert names == {"rasa", "rasa_standby", "actions", "api", "api_standby"}
    for name in names:
        section = parser[f"program:{name}"]
        assert section["autorestart"] == "true"
        assert section["stopasgroup"] == "true" and section["killasgroup"] == "true"
        assert int(section["startretries"]) > 1
        # restarted with supervisord's backoff when it dies while starting
        assert int(section["startsecs"]) >= 1
    assert "--port 18321" in parser["program:actions"]["command"]
    assert parser["eventlistener:restart_counter"]["events"] == "PROCESS_STATE"


def test_warm_standbys_share_the_port_and_the_lock(tmp_path: Path) -> None:
    """The standby Rasa listens on the port after RASA_PORT and the API fails over to it; the
    two API processes serve the same port, one at a time (the serving lock)."""
    env = {"DATA_DIR": str(tmp_path), "RASA_PORT": "18320", "CARDBOT_API_PORT": "18322"}
    parser = _parse(supervision.write_config(env))
    assert _env_of(parser["program:rasa_standby"]) == {"RASA_PORT": "18321"}
    assert "RASA_PORT" not in _env_of(parser["program:rasa"])
    api, standby = _env_of(parser["program:api"]), _env_of(parser["program:api_standby"])
    assert api == standby
    assert api["PORT"] == "18322"
    assert api["RASA_STANDBY_URL"] == "http://127.0.0.1:18321"
    assert api["API_SERVING_LOCK"] == str(tmp_path.resolve() / "supervisor" /
                                          supervision.SERVING_LOCK_NAME)
    assert parser["program:api"]["command"] == parser["program:api_standby"]["command"]
    # an explicit port and a remote standby URL are kept
    env |= {"RASA_STANDBY_PORT": "18399", "RASA_STANDBY_URL": "http://rasa-b:5005"}
    parser = _parse(supervision.write_config(env))
    assert _env_of(parser["program:rasa_standby"]) == {"RASA_PORT": "18399"}
    assert "RASA_STANDBY_URL" not in _env_of(parser["program:api"])


def test_standbys_can_be_turned_off(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path), "CARDBOT_API_PORT": "18322", "RASA_STANDBY": "0",
           "API_STANDBY": "0"}
    parser = _parse(supervision.write_config(env))
    names = {s.split(":", 1)[1] for s in parser.sections() if s.startswith("program:")}
    assert names == {"rasa", "actions", "api"}
    assert _env_of(parser["program:api"]) == {"PORT": "18322"}  # no lock, no standby URL


def test_percent_signs_are_escaped(tmp_path: Path) -> None:
    text = supervision.render_config({"ACTIONS_PORT": "5055"}, tmp_path / "a%b")
    assert "a%%b" in text and "a%b/" not in text


def test_counts_starts_restarts_and_crashes(tmp_path: Path) -> None:
    counts = supervision.Counts(tmp_path / "restarts.json")
    ev = {"processname": "rasa", "groupname": "rasa"}
    counts.on_event("PROCESS_STATE_STARTING", ev)
    counts.on_event("PROCESS_STATE_RUNNING", ev)
    counts.on_event("PROCESS_STATE_EXITED", {**ev, "expected": "0"})
    counts.on_event("PROCESS_STATE_STARTING", ev)
    counts.on_event("PROCESS_STATE_STOPPING", {"processname": "api", "groupname": "api"})
    data = json.loads((tmp_path / "restarts.json").read_text())
    assert data["rasa"]["starts"] == 2 and data["rasa"]["restarts"] == 1
    assert data["rasa"]["crashes"] == 1
    assert data["api"]["restarts"] == 0


def test_no_socket_means_not_supervised(tmp_path: Path) -> None:
    assert supervision.processes(tmp_path) is None


def test_the_standby_api_takes_the_serving_lock_when_the_holder_is_killed(
        tmp_path: Path) -> None:
    """kill -9 of the serving API releases its lock at once (the kernel drops it), so the warm
    standby goes on to serve; while the holder lives, the standby waits."""
    lock = tmp_path / "serving.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from api import supervision; supervision.acquire_serving_lock(Path(sys.argv[1])); "
         "print('held', flush=True); time.sleep(600)", str(lock)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        waited = threading.Event()
        got: list[float] = []

        def standby() -> None:
            fd = supervision.acquire_serving_lock(lock, waited.set)
            got.append(time.monotonic())
            os.close(fd)

        thread = threading.Thread(target=standby, daemon=True)
        thread.start()
        assert waited.wait(10)
        time.sleep(0.5)
        assert not got  # still waiting while the holder lives
        os.kill(holder.pid, signal.SIGKILL)
        killed = time.monotonic()
        thread.join(10)
        assert got and got[0] - killed < 2.0
    finally:
        holder.kill()
        holder.wait()


class _FakeKB:
    def __init__(self, release: int) -> None:
        self.snapshot = type("Snap", (), {"release": release})()
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_a_takeover_adopts_the_warm_kb_only_if_it_is_current(monkeypatch, tmp_path) -> None:
    import knowledge_base.content.store as store

    monkeypatch.setattr(store, "current_release", lambda session: type("R", (), {"number": 7}))
    config = type("Config", (), {"database_url": f"sqlite:///{tmp_path}/kb.db"})()
    warm = _FakeKB(7)
    monkeypatch.setattr(supervision, "_WARM_KB", warm)
    assert supervision.adopt_warm_kb(config) is warm
    assert supervision.adopt_warm_kb(config) is None  # handed over once
    stale = _FakeKB(6)  # ops published while the standby waited: load afresh
    monkeypatch.setattr(supervision, "_WARM_KB", stale)
    assert supervision.adopt_warm_kb(config) is None and stale.closed
