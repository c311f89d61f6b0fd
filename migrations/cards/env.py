"""Alembic environment of the card-account store (CARD_DB_URL); SQLAlchemy 1.4 and 2.x."""

from __future__ import annotations

from cards.models import Base
from migrations import run_env

run_env(Base.metadata, "sqlite:///var/cards.db")
