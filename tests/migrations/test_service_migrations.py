"""Migrations of the service database: from empty, from what the previous release created (its
create_all on first use), from a partial schema; the result equals the models; PostgreSQL too."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

import migrations
from api.models import Base
from tests.migration_support import pg_database, schema_diff

FIXTURES = Path(__file__).parent / "fixtures"
PREVIOUS = (FIXTURES / "service_previous_release.sql").read_text(encoding="utf-8")


def test_upgrade_from_empty_reaches_the_models_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/app.db"
    migrations.upgrade("service", url)
    migrations.upgrade("service", url)  # a second start changes nothing
    engine = create_engine(url)
    assert migrations.current("service", engine) == migrations.head("service")
    migrations.check_current("service", engine)
    assert schema_diff(url, Base.metadata) == []
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {
        "alembic_version"}


def test_upgrade_from_the_previous_release_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as con:
        con.executescript(PREVIOUS)
        con.execute("INSERT INTO conversations VALUES ('c-1', 'web', 'u-1', 'queued', "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')")
        con.execute("INSERT INTO kb_releases (number, created_at, source, content_hash, "
                    "entry_count) VALUES (1, '2026-01-01 00:00:00', 'seed', 'h', 0)")
    url = f"sqlite:///{path}"
    with pytest.raises(migrations.SchemaOutdated):  # the API refuses to start on it
        migrations.check_current("service", create_engine(url))
    migrations.upgrade("service", url)
    assert migrations.current("service", create_engine(url)) == migrations.head("service")
    assert schema_diff(url, Base.metadata) == []
    with create_engine(url).connect() as connection:
        assert connection.execute(text("SELECT state FROM conversations")).scalar() == "queued"
        assert connection.execute(text("SELECT count(*) FROM kb_releases")).scalar() == 1


def test_upgrade_completes_a_partial_schema(tmp_path: Path) -> None:
    """`make index` of the previous release alone created only the KB tables."""
    kb_only = ";\n".join(s for s in PREVIOUS.split(";\n") if " kb_" in s or "ix_kb_" in s)
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as con:
        con.executescript(kb_only + ";")
        assert "conversations" not in {r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    migrations.upgrade("service", f"sqlite:///{path}")
    assert schema_diff(f"sqlite:///{path}", Base.metadata) == []


def test_upgrade_from_empty_on_postgresql() -> None:
    with pg_database() as url:
        migrations.upgrade("service", url)
        migrations.upgrade("service", url)
        assert schema_diff(url, Base.metadata) == []
