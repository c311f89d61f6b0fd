"""API test fixtures: a fresh app on a temp database, with Rasa replaced by a fake transport.

The fake answers Rasa's REST webhook from a script the test controls, so contract and
bad-input tests run in milliseconds; the real Rasa is exercised in tests/e2e.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import migrations
from api.conversation.rasa_client import RasaClient
from api.core import db
from api.core.config import get_settings
from api.main import create_app


class FakeRasa:
    """Records what the gateway sent and replies with scripted bot messages."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.events: list[tuple[str, Any]] = []
        self.reply: Callable[[dict[str, Any]], list[dict[str, Any]]] = lambda body: [
            {"recipient_id": body["sender"], "text": "您好"}]
        self.down = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path
        if path == "/webhooks/rest/webhook":
            body = json.loads(request.content)
            self.sent.append(body)
            return httpx.Response(200, json=self.reply(body))
        if path == "/status":
            return httpx.Response(200, json={"model_file": "m.tar.gz", "model_id": "m"})
        if path.endswith("/tracker/events"):
            self.events.append((path, json.loads(request.content)))
            return httpx.Response(200, json={})
        if path.endswith("/tracker"):
            return httpx.Response(200, json={"events": []})
        return httpx.Response(404)


@pytest.fixture()
def fake_rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty service database at the newest schema, migrated once per test session."""
    path = tmp_path_factory.mktemp("schema") / "app.db"
    migrations.upgrade("service", f"sqlite:///{path}")
    return path


@pytest.fixture()
def client(tmp_path, monkeypatch, fake_rasa: FakeRasa, migrated_db: Path) -> Iterator[TestClient]:
    """TestClient on a temp SQLite DB (migrated like `make run` does); the gateway talks to
    FakeRasa."""
    shutil.copy(migrated_db, tmp_path / "app.db")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/app.db")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("APP_ENV", "test")
    for cached in (get_settings, db.get_engine, db.get_sessionmaker):
        cached.cache_clear()
    app = create_app()
    with TestClient(app) as test_client:
        settings = get_settings()
        fake = RasaClient(settings, httpx.AsyncClient(
            transport=httpx.MockTransport(fake_rasa.handler), base_url=settings.rasa_url))
        app.state.rasa = fake
        app.state.gateway._rasa = fake
        yield test_client
    for cached in (get_settings, db.get_engine, db.get_sessionmaker):
        cached.cache_clear()
