"""KB releases in the service database: numbered releases, versioned entries, the seed import.

Every change of the KB content is a numbered **release**. Entries are versioned per release:
a row of ``kb_entry_versions`` is part of every release in ``[release_from, release_to)``, so a
release's content is one query and unchanged entries are not copied. Release 1 is the seed
(``knowledge_base/seed/*.yml``). An ops console can later add drafts and call :func:`publish`
(rollback = publishing an older release's entries again under a new number).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from knowledge_base.content.entries import (
    Answer,
    Entry,
    SeedError,
    content_hash,
    load_seed,
    validate_entries,
)
from knowledge_base.db import Base

logger = logging.getLogger(__name__)



class KBRelease(Base):
    __tablename__ = "kb_releases"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 default=lambda: datetime.now(UTC))
    source: Mapped[str] = mapped_column(String(16))  # seed | publish | rollback
    content_hash: Mapped[str] = mapped_column(String(64))
    entry_count: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class KBEntryVersion(Base):
    __tablename__ = "kb_entry_versions"
    __table_args__ = (
        UniqueConstraint("entry_id", "release_from"),
        Index("ix_kb_entry_versions_span", "release_from", "release_to"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(64), index=True)
    release_from: Mapped[int] = mapped_column(ForeignKey("kb_releases.number"))
    release_to: Mapped[int | None] = mapped_column(ForeignKey("kb_releases.number"),
                                                   nullable=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(Text)
    similar: Mapped[list[str]] = mapped_column(JSON)
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    answer_en: Mapped[str | None] = mapped_column(Text, nullable=True)  # issue 19
    question_en: Mapped[str | None] = mapped_column(Text, nullable=True)  # issue 19 (0005)
    tags: Mapped[list[str]] = mapped_column(JSON)
    channels: Mapped[list[str]] = mapped_column(JSON)
    valid_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(16))

    def to_entry(self) -> Entry:
        return Entry(id=self.entry_id, category=self.category, question=self.question,
                     similar=list(self.similar), answer=Answer.model_validate(self.answer),
                     answer_en=self.answer_en, question_en=self.question_en,
                     tags=list(self.tags), channels=list(self.channels),  # type: ignore[arg-type]
                     valid_from=self.valid_from, valid_to=self.valid_to,
                     status=self.status)  # type: ignore[arg-type]

    @classmethod
    def from_entry(cls, entry: Entry, release: int) -> KBEntryVersion:
        return cls(entry_id=entry.id, release_from=release, release_to=None,
                   fingerprint=entry.fingerprint(), category=entry.category,
                   question=entry.question, similar=list(entry.similar),
                   answer=entry.answer.model_dump(mode="json"), answer_en=entry.answer_en,
                   question_en=entry.question_en,
                   tags=list(entry.tags),
                   channels=list(entry.channels), valid_from=entry.valid_from,
                   valid_to=entry.valid_to, status=entry.status)


def current_release(session: Session) -> KBRelease | None:
    return session.scalars(select(KBRelease).order_by(KBRelease.number.desc()).limit(1)).first()


def entries_at(session: Session, release: int) -> list[Entry]:
    """The entries (all statuses) of release ``release``, sorted by id."""
    rows = session.scalars(
        select(KBEntryVersion)
        .where(KBEntryVersion.release_from <= release)
        .where((KBEntryVersion.release_to.is_(None)) | (KBEntryVersion.release_to > release))
        .order_by(KBEntryVersion.entry_id)
    ).all()
    return [row.to_entry() for row in rows]


def publish(session: Session, entries: Sequence[Entry], *, source: str,
            created_by: str | None = None, note: str | None = None) -> KBRelease:
    """Make ``entries`` the content of a new release (no-op if equal to the current one).

    Unchanged entries keep their version row; changed and removed ones are closed at the new
    release. The caller commits.
    """
    errors = validate_entries([(e.id, e) for e in entries])
    if errors:
        raise SeedError(errors)
    digest = content_hash(entries)
    current = current_release(session)
    if current is not None and current.content_hash == digest:
        return current
    number = 1 if current is None else current.number + 1
    release = KBRelease(number=number, source=source, content_hash=digest,
                        entry_count=len(entries), created_by=created_by, note=note)
    session.add(release)
    session.flush()
    open_rows = {row.entry_id: row for row in session.scalars(
        select(KBEntryVersion).where(KBEntryVersion.release_to.is_(None)))}
    wanted = {e.id: e for e in entries}
    for entry_id, row in open_rows.items():
        new = wanted.get(entry_id)
        if new is None or new.fingerprint() != row.fingerprint:
            row.release_to = number
    for entry_id, entry in wanted.items():
        current_row = open_rows.get(entry_id)
        if current_row is None or current_row.fingerprint != entry.fingerprint():
            session.add(KBEntryVersion.from_entry(entry, number))
    session.flush()
    return release


def ensure_seed(session: Session, seed_dir: Path) -> KBRelease:
    """Import the seed as release 1 on an empty KB.

    While every release so far came from the seed (no ops publish yet), a changed seed becomes
    a new release, so developers editing YAML see their change; after an ops publish the seed
    is no longer consulted.
    """
    current = current_release(session)
    if current is not None and current.source != "seed":
        return current
    entries = load_seed(seed_dir)
    if current is not None and current.content_hash == content_hash(entries):
        return current
    try:
        release = publish(session, entries, source="seed", note=f"seed import from {seed_dir}")
        session.commit()
    except IntegrityError:
        # Another process imported the same seed at the same moment; use its release.
        session.rollback()
        again = current_release(session)
        if again is None:
            raise
        return again
    logger.info("KB release %d imported from seed (%d entries)", release.number, len(entries))
    return release


def release_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(KBRelease)) or 0)
