"""Security suite fixtures (issue 16): the API test app (temp DB, scripted fake Rasa) from
tests/api/conftest.py, with the handoff desk's card store, and chat helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The API suite's helpers (handoff_support, kb_support) are imported by plain module name.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from tests.api.conftest import FakeRasa, client, fake_rasa, migrated_db  # noqa: E402,F401


@pytest.fixture()
def desk_app(tmp_path, monkeypatch):
    """Environment of an app that queues handoffs (call before `client`)."""
    from handoff_support import desk_env

    desk_env(tmp_path, monkeypatch)


__all__ = ["FakeRasa"]
