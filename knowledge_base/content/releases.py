"""Releases as the console reads them: the live release, any release's entries, release and
entry history with field diffs, and the audit log. (Writing releases is the editor's job:
`knowledge_base.content.editor`; the tables are `knowledge_base.content.store`.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge_base.content.drafts import KBAudit, KBDraft
from knowledge_base.content.entries import Entry
from knowledge_base.content.errors import EditError, ErrorKind
from knowledge_base.content.store import (
    KBEntryVersion,
    KBRelease,
    current_release,
    ensure_seed,
    entries_at,
)
from knowledge_base.db import sessions

# Store field -> API field.
API_FIELDS = {"question": "standard_question", "similar": "similar_questions"}
LIST_FIELDS = ("similar", "tags", "channels")
SCALAR_FIELDS = ("question", "category", "valid_from", "valid_to", "status")


def entry_diff(before: Entry | None, after: Entry | None) -> list[dict[str, Any]]:
    """Field-level changes from ``before`` to ``after`` (API field names)."""
    if before is None and after is None:
        return []
    b = before.model_dump(mode="json") if before else {}
    a = after.model_dump(mode="json") if after else {}
    changes: list[dict[str, Any]] = []
    for name in SCALAR_FIELDS:
        if b.get(name) != a.get(name):
            changes.append({"field": API_FIELDS.get(name, name), "before": b.get(name),
                            "after": a.get(name)})
    for name in LIST_FIELDS:
        old, new = list(b.get(name) or []), list(a.get(name) or [])
        if old != new:
            changes.append({"field": API_FIELDS.get(name, name),
                            "added": [x for x in new if x not in old],
                            "removed": [x for x in old if x not in new]})
    old_answer, new_answer = b.get("answer") or {}, a.get("answer") or {}
    for name in ("text", "buttons", "links", "image"):
        if old_answer.get(name) != new_answer.get(name):
            changes.append({"field": f"answer.{name}", "before": old_answer.get(name),
                            "after": new_answer.get(name)})
    return changes


@lru_cache(maxsize=16)
def _release_entries(url: str, number: int) -> tuple[Entry, ...]:
    """Entries of a release (immutable once created, so cached by number)."""
    with sessions(url)() as session:
        return tuple(entries_at(session, number))


def _aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes for timezone columns; they are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass
class PublishResult:
    release: int
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)

    @property
    def entry_ids(self) -> list[str]:
        return sorted({*self.created, *self.updated, *self.archived, *self.restored})


class ReleaseLog:
    """Read access to the releases of the KB database, on one session."""

    def __init__(self, session: Session, url: str, seed_dir: Path | None = None) -> None:
        self.session = session
        self.url = url
        self.seed_dir = seed_dir

    def live_release(self) -> KBRelease | None:
        """The newest release; on an empty KB the seed is imported first (as the retrieval
        service would), so the console never shows an empty KB while retrieval loads."""
        current = current_release(self.session)
        if current is None and self.seed_dir is not None:
            current = ensure_seed(self.session, self.seed_dir)
        return current

    def release_entries(self, number: int) -> dict[str, Entry]:
        if self.session.get(KBRelease, number) is None:
            raise EditError(ErrorKind.NOT_FOUND, "release_not_found", f"没有版本 {number}。",
                            f"Release {number} does not exist.")
        return {e.id: e for e in _release_entries(self.url, number)}

    def live_entries(self) -> dict[str, Entry]:
        current = self.live_release()
        return {} if current is None else self.release_entries(current.number)

    def releases(self, limit: int = 50) -> list[KBRelease]:
        return list(self.session.scalars(
            select(KBRelease).order_by(KBRelease.number.desc()).limit(limit)))

    def release_diff(self, number: int) -> dict[str, Any]:
        """What release ``number`` changed compared with the one before it."""
        after = self.release_entries(number)
        before = self.release_entries(number - 1) if number > 1 else {}
        added = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        changed = [{"entry_id": k, "question": after[k].question,
                    "changes": entry_diff(before[k], after[k])}
                   for k in sorted(set(after) & set(before))
                   if after[k].fingerprint() != before[k].fingerprint()]
        return {"added": [{"entry_id": k, "question": after[k].question} for k in added],
                "removed": [{"entry_id": k, "question": before[k].question} for k in removed],
                "changed": changed}

    def history(self, entry_id: str) -> dict[str, Any]:
        """Every released version of an entry with its diff to the previous one, plus the
        pending draft's diff to live."""
        rows = list(self.session.scalars(
            select(KBEntryVersion).where(KBEntryVersion.entry_id == entry_id)
            .order_by(KBEntryVersion.release_from)))
        drafts = self.session.get(KBDraft, entry_id)
        if not rows and (drafts is None or drafts.data is None):
            raise EditError(ErrorKind.NOT_FOUND, "entry_not_found", f"没有条目 {entry_id}。",
                            f"Entry {entry_id} does not exist.")
        releases = {r.number: r for r in self.session.scalars(select(KBRelease).where(
            KBRelease.number.in_({r.release_from for r in rows})))}
        versions = []
        previous: Entry | None = None
        for row in rows:
            entry = row.to_entry()
            rel = releases.get(row.release_from)
            versions.append({
                "release_from": row.release_from, "release_to": row.release_to,
                "source": rel.source if rel else None,
                "created_by": rel.created_by if rel else None,
                "created_at": _aware(rel.created_at) if rel else None,
                "entry": entry,
                # The first version has nothing to compare with.
                "changes": entry_diff(previous, entry) if previous is not None else []})
            previous = entry
        draft = None
        if drafts is not None and drafts.data is not None:
            entry = Entry.model_validate(drafts.data)
            live = self.live_entries().get(entry_id)
            draft = {"revision": drafts.revision, "updated_by": drafts.updated_by,
                     "updated_at": _aware(drafts.updated_at), "entry": entry,
                     "changes": entry_diff(live, entry)}
        return {"entry_id": entry_id, "versions": versions[::-1], "draft": draft}

    def audit_log(self, *, entry_id: str | None = None, actor: str | None = None,
                  action: str | None = None, limit: int = 100, offset: int = 0,
                  ) -> tuple[list[KBAudit], int]:
        stmt = select(KBAudit)
        if entry_id:
            stmt = stmt.where(KBAudit.entry_id == entry_id)
        if actor:
            stmt = stmt.where(KBAudit.actor == actor)
        if action:
            stmt = stmt.where(KBAudit.action == action)
        total = int(self.session.scalar(
            select(func.count()).select_from(stmt.subquery())) or 0)
        rows = list(self.session.scalars(
            stmt.order_by(KBAudit.id.desc()).limit(limit).offset(offset)))
        for row in rows:
            row.at = _aware(row.at)  # type: ignore[assignment]
        return rows, total
