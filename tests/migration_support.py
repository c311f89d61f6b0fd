"""Helpers of the migration tests: the difference between a migrated database and the models,
and a throwaway PostgreSQL database (named i15_*; skips without a server or a driver: the Rasa
runtime has psycopg2, the service runtime may have psycopg)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, text

HOST = os.environ.get("TEST_PG_HOST", "postgres@127.0.0.1:5432")
DRIVERS = ("postgresql+psycopg", "postgresql+psycopg2")


def schema_diff(url: str, metadata: MetaData) -> list:
    """What Alembic's autogenerate would still change: empty when the schema equals the models."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), metadata))
    finally:
        engine.dispose()


@contextmanager
def pg_database(prefix: str = "i15_migrations") -> Iterator[str]:
    """Yield the URL of a new empty database `<prefix>_<random>`; drop it afterwards."""
    admin, problems = None, []
    for driver in DRIVERS:
        try:
            engine = create_engine(f"{driver}://{HOST}/postgres", isolation_level="AUTOCOMMIT")
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            admin = engine
            break
        except Exception as exc:  # driver missing or server down: try the next one
            problems.append(f"{driver}: {type(exc).__name__}")
    if admin is None:
        pytest.skip(f"PostgreSQL not usable ({'; '.join(problems)})")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{admin.url.drivername}://{HOST}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
