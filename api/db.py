"""Database engine and sessions, created lazily (nothing connects at import)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from api.settings import get_settings


class Base(DeclarativeBase):
    """Declarative base of every table the service runtime owns."""


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for DATABASE_URL (SQLite gets WAL and a busy timeout)."""
    url = get_settings().database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    """Session factory bound to the engine."""
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def init_db() -> None:
    """Create every table (import the model modules first so they register)."""
    import api.handoff.models  # noqa: F401
    import api.models  # noqa: F401

    Base.metadata.create_all(get_engine())


def session_scope() -> Iterator[Session]:
    """FastAPI dependency: one session per request."""
    with get_sessionmaker()() as session:
        yield session
