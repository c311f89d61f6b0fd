"""Alembic environment of the card-account store (CARD_DB_URL); SQLAlchemy 1.4 and 2.x."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from cards.models import Base

target_metadata = Base.metadata
config = context.config


def run_migrations() -> None:
    engine = config.attributes.get("engine") or create_engine(
        config.get_main_option("sqlalchemy.url") or "sqlite:///var/cards.db", future=True)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
