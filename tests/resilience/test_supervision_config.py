"""The supervisord config and the restart counter, without starting anything."""

from __future__ import annotations

import configparser
import json
from pathlib import Path

from api import supervision


def test_config_restarts_every_process_as_a_group(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path), "ACTIONS_PORT": "18321", "CARDBOT_API_PORT": "18322"}
    conf = supervision.write_config(env)
    parser = configparser.RawConfigParser()
    parser.read(conf)
    names = {s.split(":", 1)[1] for s in parser.sections() if s.startswith("program:")}
    assert names == {"rasa", "actions", "api"}
    for name in names:
        section = parser[f"program:{name}"]
        assert section["autorestart"] == "true"
        assert section["stopasgroup"] == "true" and section["killasgroup"] == "true"
        assert int(section["startretries"]) > 1
    assert "--port 18321" in parser["program:actions"]["command"]
    assert parser["program:api"]["environment"] == 'PORT="18322"'
    assert parser["eventlistener:restart_counter"]["events"] == "PROCESS_STATE"


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
