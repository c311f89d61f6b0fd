"""The service database as the API uses it: the engine and the one session factory of
DATABASE_URL (shared with the knowledge base, `knowledge_base.db`), created lazily.

The schema is managed by the migrations in `migrations/service` (`python -m api migrate`,
run by `make run`, `make test` and the e2e stack); nothing here creates tables.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from api.core.config import get_settings
from knowledge_base import db as service_db

Base = service_db.Base
logger = logging.getLogger(__name__)
T = TypeVar("T")


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


# A restart of PostgreSQL (or a failover) drops every pooled connection and refuses new ones
# for a second or two. The chat path rides that out instead of answering 500: the failed step
# is rolled back and run again (pool_pre_ping hands out a fresh connection) until this budget
# is spent; then the error goes on (503 `database_unavailable`, `install_db_error_handler`).
DB_RETRY_SECONDS = 8.0
DB_RETRY_PAUSE = 0.25


def transient(exc: BaseException) -> bool:
    """A lost or refused database connection (or SQLite's "database is locked"): worth a
    retry. Constraint violations and programming errors are not."""
    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


def with_db_retry(step: Callable[[], T], *, reset: Callable[[], None] | None = None,
                  budget: float = DB_RETRY_SECONDS, pause: float = DB_RETRY_PAUSE,
                  sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.monotonic) -> T:
    """Run the synchronous database `step` (in a worker thread), again after a transient
    failure until `budget` seconds have gone by; `reset` (e.g. a session's rollback) runs
    before each retry. A step must be safe to repeat: its transaction either committed (no
    retry) or was rolled back."""
    started = clock()
    attempt = 0
    while True:
        try:
            return step()
        except DBAPIError as exc:
            if not transient(exc) or clock() - started >= budget:
                raise
            attempt += 1
            logger.warning("database unavailable (%s), retry %d of the step",
                           type(exc.orig).__name__ if exc.orig else type(exc).__name__, attempt)
            if reset is not None:
                # the session's connection may be gone: the next attempt gets a new one
                with contextlib.suppress(DBAPIError):
                    reset()
            sleep(min(pause * attempt, 1.0))
