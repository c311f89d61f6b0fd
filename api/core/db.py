"""Database engine and sessions, created lazily (nothing connects at import)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from sqlalchemy import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from api.core.config import get_settings


class Base(DeclarativeBase):
    """Declarative base of every table the service runtime owns."""


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for DATABASE_URL, shared with the KB store (one pool per URL)."""
    from knowledge_base.content.store import get_engine as engine_for

    return engine_for(get_settings().database_url)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    """Session factory bound to the engine."""
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def init_db() -> None:
    """Create every table (import the model modules first so they register)."""
    import api.models  # noqa: F401  # noqa: F401

    Base.metadata.create_all(get_engine())


def session_scope() -> Iterator[Session]:
    """FastAPI dependency: one session per request."""
    with get_sessionmaker()() as session:
        yield session
