"""Schema migrations (Alembic) of the two databases, and the one way to run them.

* `service` (`migrations/service`): DATABASE_URL, every table of the service runtime
  (`api.models` lists them: gateway, handoff, WeChat, KB releases and console).
* `cards` (`migrations/cards`): CARD_DB_URL, the card-account store (`cards.models`); runs
  on SQLAlchemy 1.4 (Rasa runtime) and 2.x (service runtime).

`upgrade()` is idempotent and is what `python -m api migrate` / `python -m cards migrate`,
`make run`, `make test` and the e2e stack call at start-up. The baseline revisions create only
the tables that are missing, so a database created by an earlier release (which made its
tables with `create_all` on first use) is brought under Alembic by the same `upgrade head`.
This package imports no project code: each env.py imports its own models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

HERE = Path(__file__).resolve().parent
TARGETS = ("service", "cards")


class SchemaOutdated(RuntimeError):
    """The database is not at the schema this code expects (migrations not run)."""


def config(target: str, url: str | None = None, engine: Any = None) -> Config:
    """Alembic config of `target`; pass the database as a URL or as an engine (tests use the
    engine of an in-memory SQLite database)."""
    if target not in TARGETS:
        raise ValueError(f"unknown migration target {target!r}; one of {TARGETS}")
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE / target))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(target: str, url: str | None = None, engine: Any = None,
            revision: str = "head") -> None:
    """Bring the database of `target` to `revision` (idempotent)."""
    if url is not None and url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(config(target, url, engine), revision)


def run_env(target_metadata: Any, default_url: str) -> None:
    """The body of every env.py: migrate the configured engine (or URL) in one transaction."""
    from alembic import context
    from sqlalchemy import create_engine

    cfg = context.config
    engine = cfg.attributes.get("engine") or create_engine(
        cfg.get_main_option("sqlalchemy.url") or default_url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


def table_missing(table: str) -> bool:
    """In a revision: whether `table` does not exist yet (baselines keep the tables an earlier
    release made with create_all)."""
    import sqlalchemy as sa
    from alembic import op

    return not sa.inspect(op.get_bind()).has_table(table)


def head(target: str) -> str:
    """The newest revision of `target`."""
    heads = ScriptDirectory.from_config(config(target)).get_heads()
    return heads[0]


def current(target: str, engine: Any) -> str | None:
    """The revision the database is at (None: not under Alembic yet)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_current(target: str, engine: Any) -> None:
    """Raise SchemaOutdated unless the database is at the newest revision."""
    found, wanted = current(target, engine), head(target)
    if found != wanted:
        raise SchemaOutdated(
            f"the {target} database is at schema revision {found or 'none'}, this code needs "
            f"{wanted}: run `python -m api migrate` (or `make migrate`) first")
