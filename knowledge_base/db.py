"""The service database: one declarative base for every table, one engine and one session
factory per database URL. Nothing connects at import; the schema comes from the migrations
(`migrations/service`), never from `create_all`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    """Declarative base of every table in the service database (gateway, handoff, WeChat and
    the knowledge base's releases and console tables)."""


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """One engine per database URL; SQLite gets WAL, foreign keys and a busy timeout."""
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


@lru_cache(maxsize=8)
def sessions(url: str) -> sessionmaker[Session]:
    """The session factory of the database at `url` (shared by every layer that uses it)."""
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)
