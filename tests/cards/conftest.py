"""Fixtures of the card-account store tests (run by both runtimes: SQLAlchemy 1.4 and 2.x)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

import migrations
from cards.client import SqlCardAccountClient, make_engine

# A fixed business date: the demo data is seeded relative to it.
TODAY = date(2024, 11, 20)


def new_store(url: str, today: date = TODAY) -> SqlCardAccountClient:
    """A client on a store migrated like `make run` migrates it (seeded on first use)."""
    engine = make_engine(url)
    migrations.upgrade("cards", engine=engine)
    return SqlCardAccountClient(engine, today=lambda: today)


@pytest.fixture()
def card_store(tmp_path: Path) -> Iterator[SqlCardAccountClient]:
    """A new SQLite card store seeded on TODAY."""
    yield new_store(f"sqlite:///{tmp_path}/cards.db")


@pytest.fixture()
def store(card_store: SqlCardAccountClient) -> SqlCardAccountClient:
    return card_store
