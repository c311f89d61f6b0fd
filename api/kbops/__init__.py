"""The ops console's service layer for the knowledge base (api/routers/kb.py is its HTTP face).

Editing, drafts, publish and import/export live in ``knowledge_base`` (editing.py,
importexport.py); this package holds what needs the gateway's tables or the running retrieval
service: roles, the KB database session, hit test and conflict check, answer previews, the
unanswered-questions inbox and per-entry statistics.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends
from sqlalchemy.orm import Session

from api.core.config import Settings, get_settings
from knowledge_base.content.editor import console_sessions

# Who may edit drafts (and use every read-only view), and who may publish or roll back.
KB_EDIT_ROLES = ("ops", "supervisor", "admin")
KB_PUBLISH_ROLES = ("supervisor", "admin")


def kb_session(settings: Settings = Depends(get_settings)) -> Iterator[Session]:
    """FastAPI dependency: a session on the KB tables (releases, drafts, audit log)."""
    with console_sessions(settings.database_url)() as session:
        yield session
