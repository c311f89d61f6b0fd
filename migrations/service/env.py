"""Alembic environment of the service database (DATABASE_URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import api.models  # every table of the service database, listed explicitly

target_metadata = api.models.Base.metadata
config = context.config


def run_migrations() -> None:
    engine = config.attributes.get("engine") or create_engine(
        config.get_main_option("sqlalchemy.url") or "sqlite:///var/app.db")
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
