"""Migrations of the card-account store, on both runtimes (SQLAlchemy 1.4 and 2.x): from empty,
from the tables the previous release created on first use, on PostgreSQL; no schema on the
request path."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import migrations
from cards.client import CardStoreNotMigrated, SqlCardAccountClient, make_engine
from cards.models import Base
from tests.cards.conftest import TODAY
from tests.migration_support import pg_database, schema_diff

PREVIOUS = (Path(__file__).parents[1] / "migrations" / "fixtures" /
            "cards_previous_release.sql").read_text(encoding="utf-8")


def test_upgrade_from_empty_reaches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cards.db"
    migrations.upgrade("cards", url)
    migrations.upgrade("cards", url)
    assert migrations.current("cards", create_engine(url)) == migrations.head("cards")
    assert schema_diff(url, Base.metadata) == []


def test_upgrade_from_the_previous_release_keeps_its_accounts(tmp_path: Path) -> None:
    path = tmp_path / "cards.db"
    with sqlite3.connect(path) as con:
        con.executescript(PREVIOUS)
    url = f"sqlite:///{path}"
    old = make_engine(url)
    SqlCardAccountClient(old, today=lambda: TODAY)  # nothing happens before first use
    migrations.upgrade("cards", url)
    assert schema_diff(url, Base.metadata) == []
    client = SqlCardAccountClient(make_engine(url), today=lambda: TODAY)
    assert client.profile("demo-gold-001") is not None  # seeded on first use, as before
    migrations.upgrade("cards", url)
    with create_engine(url).connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM cardholders")).scalar() == 5


def test_an_unmigrated_store_is_refused_not_created(tmp_path: Path) -> None:
    client = SqlCardAccountClient(make_engine(f"sqlite:///{tmp_path}/cards.db"))
    with pytest.raises(CardStoreNotMigrated, match="migrate"):
        client.profile("demo-gold-001")


def test_upgrade_from_empty_on_postgresql() -> None:
    with pg_database() as url:
        migrations.upgrade("cards", url)
        migrations.upgrade("cards", url)
        assert schema_diff(url, Base.metadata) == []
        client = SqlCardAccountClient(make_engine(url), today=lambda: TODAY)
        assert client.profile("demo-gold-001") is not None
        client._engine.dispose()
