"""Handoff events reach listeners only after the transaction commits; a rollback drops them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.orm import sessionmaker

import migrations
from api.handoff.events import publish_after_commit
from api.handoff.hub import Hub
from api.models import Conversation
from knowledge_base.db import get_engine


def test_events_wait_for_the_commit_and_die_with_a_rollback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/app.db"
    migrations.upgrade("service", url)
    sessions = sessionmaker(bind=get_engine(url), expire_on_commit=False)

    async def scenario() -> list[dict]:
        hub = Hub()
        sub = hub.subscribe("conv:c-1")
        with sessions() as db:
            db.add(Conversation(id="c-1", channel="web", user_id="u-1"))
            publish_after_commit(db, hub, "conv:c-1", {"type": "state", "n": 1})
            assert sub.queue.empty()  # not before the commit
            db.commit()
            publish_after_commit(db, hub, "conv:c-1", {"type": "state", "n": 2})
            db.rollback()  # never announced
            publish_after_commit(db, hub, "conv:c-1", {"type": "state", "n": 3})
            db.commit()
        return [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]

    assert [e["n"] for e in asyncio.run(scenario())] == [1, 3]
