"""Editing the KB from the ops console: drafts, publish, rollback, history and the audit log.

Model
    The *live* KB is the newest release of :mod:`knowledge_base.content.store`. Ops edit *drafts*
    (:class:`~knowledge_base.content.drafts.KBDraft`); the *working copy* of an entry is its
    draft if one is pending, else its live version. ``publish`` turns every pending draft into
    one new numbered release. Entries are never deleted: archiving is a draft with status
    ``archived`` (the bot stops using it once published).

Rollback
    Rolling back to release *n* publishes a **new release whose content equals release n**
    (the live pointer always moves forward, so history stays linear and a rollback can itself
    be rolled back). Pending drafts are kept as drafts on top of the new live content; the
    revision of every entry the rollback changed is bumped, so an editor still holding the
    pre-rollback content gets a 409 instead of silently undoing the rollback.

Optimistic locking
    Every save names the revision it was based on (``expected_revision``); the update is a
    compare-and-set on ``kb_drafts.revision``. A mismatch is a 409 naming who changed the
    entry and when.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from knowledge_base.content.drafts import KBAudit, KBDraft
from knowledge_base.content.entries import (
    ENTRY_ID_RE,
    MAX_BUTTONS,
    MIN_SIMILAR,
    Entry,
    content_hash,
    normalize_question,
    validate_entries,
)
from knowledge_base.content.errors import EditError, ErrorKind
from knowledge_base.content.releases import (
    API_FIELDS,
    PublishResult,
    ReleaseLog,
    _aware,
    entry_diff,
)
from knowledge_base.content.store import KBEntryVersion, publish

logger = logging.getLogger(__name__)

NEW_ID_PREFIX = "kb"
_NEW_ID_RE = re.compile(rf"^{NEW_ID_PREFIX}-(\d+)$")
# One publish/rollback at a time per process (the release number is also a primary key, so
# two processes racing get an IntegrityError, reported as 409).
_RELEASE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Problem:
    """One validation problem of an entry (field named as the API names it)."""

    field: str
    message: str
    message_en: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "message_en": self.message_en}


# The Chinese label ops see of each store field.
LABELS = {
    "id": "条目ID", "question": "标准问", "similar": "相似问", "answer": "答案",
    "answer.text": "答案正文", "answer.buttons": "按钮", "answer.links": "链接",
    "answer.image": "图片地址", "category": "分类", "tags": "标签", "channels": "渠道",
    "valid_from": "生效日期", "valid_to": "失效日期", "status": "状态",
}


def _label(loc: Sequence[Any]) -> tuple[str, str]:
    """(API field path, Chinese label) of a pydantic error location."""
    parts = [str(p) for p in loc]
    path = ".".join(API_FIELDS.get(p, p) for p in parts) or "entry"
    for n in range(len(parts), 0, -1):
        key = ".".join(p for p in parts[:n] if not p.isdigit())
        if key in LABELS:
            return path, LABELS[key]
    return path, "条目"


def _zh(err: Any, label: str) -> str:
    """A Chinese message for one pydantic error."""
    kind = str(err.get("type", ""))
    msg = str(err.get("msg", ""))
    ctx = err.get("ctx") or {}
    if kind == "missing" or kind == "string_too_short":
        return f"{label}不能为空"
    if kind == "string_too_long":
        return f"{label}太长（最多 {ctx.get('max_length')} 个字）"
    if kind == "too_long":
        return f"{label}最多 {ctx.get('max_length')} 个"
    if kind == "too_short":
        return f"{label}至少需要 {ctx.get('min_length')} 个"
    if kind == "string_pattern_mismatch":
        if label == "条目ID":
            return "条目ID 须以小写字母开头、以“-数字”结尾，例如 repay-001"
        return f"{label}必须是以 http:// 或 https:// 开头的网址"
    if kind == "literal_error":
        return f"{label}只能是 web、app、wechat" if label == "渠道" else f"{label}取值不正确"
    if kind.startswith("date"):
        return f"{label}不是有效日期（格式 YYYY-MM-DD）"
    if kind in ("list_type", "string_type", "dict_type", "model_type"):
        return f"{label}格式不正确"
    if kind == "extra_forbidden":
        return f"不认识的字段：{label}"
    known = [
        ("needs at least", f"相似问至少需要 {MIN_SIMILAR} 条"),
        ("similar questions must not be blank", "相似问不能有空行"),
        ("repeat each other", "标准问与相似问有重复（忽略标点和大小写后相同）"),
        ("channels repeat", "渠道有重复"),
        ("is after valid_to", "生效日期晚于失效日期"),
        ("answer text is blank", "答案正文不能为空"),
        ("must be '/intent'", '按钮动作须为 /意图 或 /faq{"kb_entry_id":"条目ID"}'),
        ("invalid JSON", "按钮动作里的 JSON 不正确"),
        ("exactly one kb_entry_id", '按钮动作须只带一个 kb_entry_id'),
        ("must not be blank", f"{label}不能为空"),
    ]
    for needle, zh in known:
        if needle in msg:
            return zh
    return f"{label}格式不正确"


def entry_problems(exc: ValidationError) -> list[Problem]:
    """Bilingual problems of an :class:`Entry` validation error."""
    out = []
    for err in exc.errors():
        path, label = _label(err.get("loc", ()))
        out.append(Problem(path, _zh(err, label), f"{path}: {err.get('msg')}"))
    return out


def build_entry(data: dict[str, Any]) -> Entry:
    """Validate store-shaped entry data; raise a 422 :class:`EditError` listing problems."""
    try:
        return Entry.model_validate(data)
    except ValidationError as exc:
        problems = entry_problems(exc)
        raise EditError(ErrorKind.INVALID, "invalid_entry", "条目内容有误：" + "；".join(
            p.message for p in problems), "Invalid entry: " + "; ".join(
            p.message_en for p in problems), problems=[p.as_dict() for p in problems]) from exc


# ---------------------------------------------------------------------------- diffs

# ---------------------------------------------------------------------------- working copy


@dataclass
class WorkingEntry:
    """An entry as the console shows it: working copy, live version, pending draft."""

    entry_id: str
    live: Entry | None
    draft: Entry | None
    revision: int = 0
    updated_by: str | None = None
    updated_at: datetime | None = None
    live_since: int | None = None  # release the live version first appeared in

    @property
    def current(self) -> Entry:
        value = self.draft or self.live
        assert value is not None
        return value

    @property
    def has_draft(self) -> bool:
        return self.draft is not None

    @property
    def status(self) -> str:
        """draft (unpublished changes) | published | archived."""
        if self.draft is not None:
            return "draft"
        return "archived" if self.current.status == "archived" else "published"

    @property
    def pending_action(self) -> str | None:
        """What publishing the draft would do: create | update | archive | restore."""
        if self.draft is None:
            return None
        if self.live is None:
            return "create"
        if self.draft.status == "archived" and self.live.status != "archived":
            return "archive"
        if self.draft.status != "archived" and self.live.status == "archived":
            return "restore"
        return "update"


def _now() -> datetime:
    return datetime.now(UTC)


class KBEditor(ReleaseLog):
    """Drafts, publish and rollback on one session, acting as one staff user."""

    def __init__(self, session: Session, url: str, actor: str, role: str = "",
                 seed_dir: Path | None = None) -> None:
        super().__init__(session, url, seed_dir)
        self.actor = actor
        self.role = role

    # ---------------------------------------------------------------- reading

    def _drafts(self) -> dict[str, KBDraft]:
        return {d.entry_id: d for d in self.session.scalars(select(KBDraft))}

    def working_copy(self) -> dict[str, WorkingEntry]:
        """Every entry that exists live or as a pending draft, by id."""
        live = self.live_entries()
        drafts = self._drafts()
        out: dict[str, WorkingEntry] = {}
        for entry_id in sorted({*live, *(k for k, d in drafts.items() if d.data is not None)}):
            draft_row = drafts.get(entry_id)
            draft = (Entry.model_validate(draft_row.data)
                     if draft_row is not None and draft_row.data is not None else None)
            out[entry_id] = WorkingEntry(
                entry_id, live.get(entry_id), draft,
                revision=draft_row.revision if draft_row else 0,
                updated_by=draft_row.updated_by if draft_row else None,
                updated_at=_aware(draft_row.updated_at) if draft_row else None)
        return out

    def get(self, entry_id: str) -> WorkingEntry:
        found = self.find(entry_id)
        if found is None:
            raise EditError(ErrorKind.NOT_FOUND, "entry_not_found", f"没有条目 {entry_id}。",
                            f"Entry {entry_id} does not exist.")
        return found

    def find(self, entry_id: str) -> WorkingEntry | None:
        """The entry's working copy, or None if it exists neither live nor as a draft."""
        found = self.working_copy().get(entry_id)
        if found is not None and found.live is not None:
            row = self.session.scalars(
                select(KBEntryVersion).where(KBEntryVersion.entry_id == entry_id,
                                             KBEntryVersion.release_to.is_(None))).first()
            found.live_since = row.release_from if row else None
        return found

    def pending(self) -> list[WorkingEntry]:
        """Entries whose draft differs from the live version."""
        return [w for w in self.working_copy().values()
                if w.draft is not None and (w.live is None
                                            or w.live.fingerprint() != w.draft.fingerprint())]

    def draft_content(self) -> list[Entry]:
        """The KB as it would be after publishing every draft."""
        return [w.current for w in self.working_copy().values()]

    # ---------------------------------------------------------------- validation

    def cross_check(self, entry: Entry, *, others: dict[str, Entry] | None = None,
                    ) -> list[Problem]:
        """Problems of ``entry`` against the other entries: shared questions, dead buttons."""
        pool = others if others is not None else {
            k: w.current for k, w in self.working_copy().items()}
        owner: dict[str, tuple[str, str]] = {}
        for other in pool.values():
            if other.id == entry.id:
                continue
            for q in other.questions:
                owner.setdefault(normalize_question(q), (other.id, q))
        problems = []
        for index, q in enumerate(entry.questions):
            hit = owner.get(normalize_question(q))
            if hit is not None:
                where = "standard_question" if index == 0 else f"similar_questions.{index - 1}"
                problems.append(Problem(
                    where, f"问题“{q}”已属于条目 {hit[0]}（{hit[1]}）",
                    f"question {q!r} already belongs to entry {hit[0]}"))
        for i, button in enumerate(entry.answer.buttons):
            target = button.target_entry()
            if target is not None and target != entry.id and target not in pool:
                problems.append(Problem(
                    f"answer.buttons.{i}.payload", f"按钮“{button.title}”指向不存在的条目 {target}",
                    f"button {button.title!r} points at unknown entry {target}"))
        return problems

    def _raise_problems(self, problems: list[Problem]) -> None:
        if problems:
            raise EditError(ErrorKind.INVALID,
                            "entry_conflict", "；".join(p.message for p in problems),
                            "; ".join(p.message_en for p in problems),
                            problems=[p.as_dict() for p in problems])

    # ---------------------------------------------------------------- writing drafts

    def new_id(self) -> str:
        """Next free ``kb-NNN`` id (never reuses an id that existed in any release)."""
        self.live_release()
        ids: Iterable[str] = [
            *self.session.scalars(select(KBDraft.entry_id)),
            *self.session.scalars(select(KBEntryVersion.entry_id).distinct())]
        numbers = [int(m.group(1)) for i in ids if (m := _NEW_ID_RE.match(i))]
        return f"{NEW_ID_PREFIX}-{(max(numbers) + 1) if numbers else 1:03d}"

    def audit(self, action: str, summary: str, *, entry_id: str | None = None,
              release: int | None = None, revision: int | None = None,
              details: dict[str, Any] | None = None) -> None:
        self.session.add(KBAudit(actor=self.actor, role=self.role, action=action,
                                 entry_id=entry_id, release=release, revision=revision,
                                 summary=summary, details=details, at=_now()))

    def create(self, data: dict[str, Any]) -> WorkingEntry:
        """Create a new entry as a draft (id generated when not given)."""
        self.live_release()  # the seed must be in before ids are checked
        given = data.get("id")
        if given:
            if not ENTRY_ID_RE.match(given):
                build_entry(data)  # raises the bilingual id-format problem
            exists = (self.session.get(KBDraft, given) is not None
                      or self.session.scalars(select(KBEntryVersion.id).where(
                          KBEntryVersion.entry_id == given).limit(1)).first() is not None)
            if exists:
                raise EditError(ErrorKind.CONFLICT, "entry_exists", f"条目ID {given} 已被使用。",
                                f"Entry id {given} is already taken.")
        entry = build_entry({**data, "id": given or "kb-000"})
        self._raise_problems(self.cross_check(entry))
        for _attempt in range(3):
            entry_id = given or self.new_id()
            entry = entry.model_copy(update={"id": entry_id})
            row = KBDraft(entry_id=entry_id, revision=1, data=entry.model_dump(mode="json"),
                          updated_by=self.actor, updated_at=_now(), created_at=_now())
            self.session.add(row)
            try:
                self.session.flush()
            except IntegrityError:
                self.session.rollback()
                if given:
                    raise EditError(ErrorKind.CONFLICT,
                                    "entry_exists", f"条目ID {given} 已被使用。",
                                    f"Entry id {given} is already taken.") from None
                continue
            self.audit("create", f"新建条目：{entry.question}", entry_id=entry_id, revision=1,
                       details={"changes": entry_diff(None, entry)})
            self.session.commit()
            return self.get(entry_id)
        raise EditError(ErrorKind.CONFLICT, "id_race", "生成条目ID时冲突，请重试。",
                        "Could not allocate an entry id; retry.")

    def _save_draft(self, current: WorkingEntry, entry: Entry | None, expected: int,
                    action: str, summary: str) -> WorkingEntry | None:
        """Compare-and-set the draft of an entry; ``entry=None`` discards the draft."""
        entry_id = current.entry_id
        # A draft equal to the live version is no pending change.
        if entry is not None and current.live is not None \
                and entry.fingerprint() == current.live.fingerprint():
            entry = None
        data = entry.model_dump(mode="json") if entry is not None else None
        now = _now()
        if expected == 0:
            row = KBDraft(entry_id=entry_id, revision=1, data=data, updated_by=self.actor,
                          updated_at=now, created_at=now)
            self.session.add(row)
            try:
                self.session.flush()
            except IntegrityError:
                self.session.rollback()
                raise self._conflict(entry_id) from None
            new_revision = 1
        else:
            result = self.session.execute(
                update(KBDraft).where(KBDraft.entry_id == entry_id, KBDraft.revision == expected)
                .values(revision=KBDraft.revision + 1, data=data, updated_by=self.actor,
                        updated_at=now))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                self.session.rollback()
                raise self._conflict(entry_id)
            new_revision = expected + 1
        before = current.current
        after = entry or current.live
        self.audit(action, summary, entry_id=entry_id, revision=new_revision,
                   details={"changes": entry_diff(before, after)})
        self.session.commit()
        return self.find(entry_id)  # None: a new entry's draft was dropped

    def _conflict(self, entry_id: str) -> EditError:
        self.session.expire_all()
        row = self.session.get(KBDraft, entry_id)
        who = row.updated_by if row else "其他人"
        when = _aware(row.updated_at) if row else None
        stamp = when.astimezone().strftime("%Y-%m-%d %H:%M:%S") if when else ""
        return EditError(
            ErrorKind.CONFLICT, "edit_conflict",
            f"条目 {entry_id} 已被 {who} 于 {stamp} 修改，您的修改未保存。"
            "请刷新查看最新内容后再改。",
            f"Entry {entry_id} was changed by {who} at {stamp}; reload and retry.",
            current_revision=row.revision if row else 0, updated_by=who,
            updated_at=when.isoformat() if when else None)

    @staticmethod
    def _existing(saved: WorkingEntry | None, entry_id: str) -> WorkingEntry:
        if saved is None:  # cannot happen for a save that keeps content
            raise EditError(ErrorKind.NOT_FOUND, "entry_not_found", f"没有条目 {entry_id}。",
                            f"Entry {entry_id} does not exist.")
        return saved

    def check_revision(self, current: WorkingEntry, expected: int) -> None:
        if current.revision != expected:
            raise self._conflict(current.entry_id)

    def update(self, entry_id: str, changes: dict[str, Any], expected: int) -> WorkingEntry:
        """Apply field changes (store field names) to the working copy as a new draft."""
        current = self.get(entry_id)
        self.check_revision(current, expected)
        data = {**current.current.model_dump(mode="json"), **changes, "id": entry_id}
        entry = build_entry(data)
        self._raise_problems(self.cross_check(entry))
        action = "update"
        if entry.status == "archived" and current.current.status != "archived":
            action = "archive"
        elif entry.status != "archived" and current.current.status == "archived":
            action = "restore"
        summary = {"update": "修改条目", "archive": "下线条目", "restore": "恢复条目"}[action]
        return self._existing(self._save_draft(current, entry, expected, action,
                                               f"{summary}：{entry.question}"), entry_id)

    def archive(self, entry_id: str, expected: int) -> WorkingEntry | None:
        """Take an entry offline (draft with status archived); a never-published entry's draft
        is simply discarded. Returns None when the entry no longer exists."""
        current = self.get(entry_id)
        self.check_revision(current, expected)
        if current.live is None:
            self._save_draft(current, None, expected, "discard",
                             f"删除未发布的新条目：{current.current.question}")
            return None
        if current.current.status == "archived":
            raise EditError(ErrorKind.CONFLICT, "already_archived", f"条目 {entry_id} 已经下线。",
                            f"Entry {entry_id} is already archived.")
        entry = current.current.model_copy(update={"status": "archived"})
        return self._existing(self._save_draft(current, entry, expected, "archive",
                                               f"下线条目：{entry.question}"), entry_id)

    def discard(self, entry_id: str, expected: int) -> WorkingEntry | None:
        """Drop the pending draft (back to the live version)."""
        current = self.get(entry_id)
        self.check_revision(current, expected)
        if current.draft is None:
            raise EditError(ErrorKind.CONFLICT, "no_draft", f"条目 {entry_id} 没有未发布的修改。",
                            f"Entry {entry_id} has no draft.")
        return self._save_draft(current, None, expected, "discard",
                                f"放弃草稿：{current.current.question}")

    def add_similar(self, entry_id: str, questions: list[str], expected: int
                    ) -> tuple[WorkingEntry, list[str]]:
        """Append questions (skipping ones the entry already has) as similar questions."""
        current = self.get(entry_id)
        self.check_revision(current, expected)
        have = {normalize_question(q) for q in current.current.questions}
        added = []
        for q in questions:
            key = normalize_question(q)
            if q.strip() and key and key not in have:
                have.add(key)
                added.append(q.strip())
        if not added:
            raise EditError(ErrorKind.CONFLICT, "nothing_to_add", "这些问题都已在该条目中。",
                            "Every question is already part of the entry.")
        entry = build_entry({**current.current.model_dump(mode="json"),
                             "similar": [*current.current.similar, *added]})
        self._raise_problems(self.cross_check(entry))
        saved = self._save_draft(current, entry, expected, "add_similar",
                                 f"从待处理问题添加 {len(added)} 条相似问：{entry.question}")
        return self._existing(saved, entry_id), added

    def import_drafts(self, entries: Sequence[Entry], source_name: str) -> dict[str, list[str]]:
        """Write validated entries as drafts in one transaction (the caller validated them)."""
        working = self.working_copy()
        created: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        now = _now()
        for entry in entries:
            current = working.get(entry.id)
            if current is not None and current.current.fingerprint() == entry.fingerprint():
                unchanged.append(entry.id)
                continue
            equal_live = current is not None and current.live is not None \
                and current.live.fingerprint() == entry.fingerprint()
            data = None if equal_live else entry.model_dump(mode="json")
            row = self.session.get(KBDraft, entry.id)
            if row is None:
                row = KBDraft(entry_id=entry.id, revision=1, data=data, updated_by=self.actor,
                              updated_at=now, created_at=now)
                self.session.add(row)
            else:
                row.revision += 1
                row.data = data
                row.updated_by = self.actor
                row.updated_at = now
            (created if current is None else updated).append(entry.id)
        self.session.flush()
        self.audit("import", f"导入 {source_name}：新建 {len(created)} 条，修改 {len(updated)} 条",
                   details={"file": source_name, "created": created, "updated": updated,
                            "unchanged": len(unchanged)})
        self.session.commit()
        return {"created": created, "updated": updated, "unchanged": unchanged}

    # ---------------------------------------------------------------- releases

    def publish_drafts(self, note: str | None = None) -> PublishResult:
        """Publish every pending draft as one new release."""
        with _RELEASE_LOCK:
            working = self.working_copy()
            drafts = {d.entry_id: d for d in self.session.scalars(
                select(KBDraft).where(KBDraft.data.is_not(None)))}
            result = PublishResult(release=0)
            for entry_id, w in working.items():
                if w.draft is None or (w.live is not None
                                       and w.live.fingerprint() == w.draft.fingerprint()):
                    continue
                {"create": result.created, "update": result.updated,
                 "archive": result.archived, "restore": result.restored}[
                    w.pending_action or "update"].append(entry_id)
            if not result.entry_ids:
                raise EditError(ErrorKind.CONFLICT, "nothing_to_publish", "没有待发布的草稿。",
                                "There are no drafts to publish.")
            content = [w.current for w in working.values()]
            errors = validate_entries([(e.id, e) for e in content])
            if errors:
                raise EditError(ErrorKind.INVALID, "publish_invalid",
                                "发布被拒绝，知识库内容有误：" + "；".join(errors[:5]),
                                "Publish refused: " + "; ".join(errors[:5]), errors=errors)
            try:
                release = publish(self.session, content, source="publish",
                                  created_by=self.actor, note=note)
                for entry_id, row in drafts.items():
                    cleared = self.session.execute(
                        update(KBDraft).where(KBDraft.entry_id == entry_id,
                                              KBDraft.revision == row.revision)
                        .values(data=None))
                    if cleared.rowcount != 1:  # type: ignore[attr-defined]
                        raise EditError(ErrorKind.CONFLICT, "draft_changed_during_publish",
                                        f"发布期间条目 {entry_id} 被修改，本次发布已取消，请重试。",
                                        f"Entry {entry_id} changed during publish; retry.")
                result.release = release.number
                for entry_id in result.entry_ids:
                    w = working[entry_id]
                    self.audit("publish", f"发布到版本 {release.number}：{w.current.question}",
                               entry_id=entry_id, release=release.number,
                               revision=w.revision,
                               details={"changes": entry_diff(w.live, w.draft)})
                count = len(result.entry_ids)
                self.audit("publish", f"发布版本 {release.number}（{count} 条变更）",
                           release=release.number,
                           details={"created": result.created, "updated": result.updated,
                                    "archived": result.archived, "restored": result.restored,
                                    "note": note})
                self.session.commit()
            except IntegrityError as exc:
                self.session.rollback()
                raise EditError(ErrorKind.CONFLICT,
                                "release_race", "另一次发布正在进行，请稍后重试。",
                                "Another publish is in progress; retry.") from exc
            except EditError:
                self.session.rollback()
                raise
        logger.info("KB release %d published by %s (%d entries changed)", result.release,
                    self.actor, len(result.entry_ids))
        return result

    def rollback(self, number: int, note: str | None = None) -> tuple[int, list[str]]:
        """A new release whose content equals release ``number``; returns (release, changed)."""
        with _RELEASE_LOCK:
            target = self.release_entries(number)
            live_release = self.live_release()
            live = self.live_entries()
            if live_release is not None and content_hash(target.values()) == \
                    live_release.content_hash:
                raise EditError(ErrorKind.CONFLICT,
                                "already_live", f"版本 {number} 的内容就是当前线上内容。",
                                f"Release {number} has the same content as the live KB.")
            changed = sorted(
                k for k in {*target, *live}
                if k not in target or k not in live
                or target[k].fingerprint() != live[k].fingerprint())
            try:
                release = publish(self.session, list(target.values()), source="rollback",
                                  created_by=self.actor,
                                  note=note or f"回滚到版本 {number}")
                now = _now()
                for entry_id in changed:
                    row = self.session.get(KBDraft, entry_id)
                    if row is None:
                        self.session.add(KBDraft(entry_id=entry_id, revision=1, data=None,
                                                 updated_by=self.actor, updated_at=now,
                                                 created_at=now))
                    else:
                        row.revision += 1
                        row.updated_by = self.actor
                        row.updated_at = now
                self.audit("rollback", f"回滚：版本 {release.number} 的内容等于版本 {number}",
                           release=release.number,
                           details={"target": number, "changed": changed, "note": note})
                self.session.commit()
            except IntegrityError as exc:
                self.session.rollback()
                raise EditError(ErrorKind.CONFLICT,
                                "release_race", "另一次发布正在进行，请稍后重试。",
                                "Another publish is in progress; retry.") from exc
        logger.info("KB rolled back to release %d as release %d by %s", number,
                    release.number, self.actor)
        return release.number, changed

# ---------------------------------------------------------------------------- searching


def matches(w: WorkingEntry, *, query: str | None = None, category: str | None = None,
            tag: str | None = None, status: str | None = None,
            channel: str | None = None, missing_english: bool = False) -> bool:
    """Console filters: free text (id, questions, answer, tags), category, tag, status,
    channel, entries without an English answer. ``status`` is draft | published | archived."""
    e = w.current
    if missing_english and e.answer_en:
        return False
    if category and e.category != category:
        return False
    if tag and tag not in e.tags:
        return False
    if status and w.status != status:
        return False
    if channel and channel not in e.channels:
        return False
    if query:
        needle = normalize_question(query)
        if not needle:
            return True
        hay = [e.id, e.category, *e.questions, e.answer.text, e.answer_en or "",
               e.question_en or "", *e.tags]
        return any(needle in normalize_question(h) for h in hay)
    return True


__all__ = ["MAX_BUTTONS", "EditError", "KBEditor", "Problem", "PublishResult", "WorkingEntry",
           "build_entry", "entry_diff", "matches"]
