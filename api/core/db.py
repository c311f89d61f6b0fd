"""The service database as the API uses it: the engine and the one session factory of
DATABASE_URL (shared with the knowledge base, `knowledge_base.db`), created lazily.

The schema is managed by the migrations in `migrations/service` (`python -m api migrate`,
run by `make run`, `make test` and the e2e stack); nothing here creates tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.core.config import get_settings
from knowledge_base import db as service_db

Base = service_db.Base


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for DATABASE_URL (one pool per URL)."""
    return service_db.get_engine(get_settings().database_url)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    """The session factory of DATABASE_URL."""
    return service_db.sessions(get_settings().database_url)


def session_scope() -> Iterator[Session]:
    """FastAPI dependency: one session per request."""
    with get_sessionmaker()() as session:
        yield session
