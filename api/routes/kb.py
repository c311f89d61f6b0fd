"""Knowledge-base console API: ``/api/v1/kb/...`` (the ops console at ``/ops`` uses it).

Roles: ``ops`` (and supervisor, admin) browse, edit drafts, import/export, hit-test and work
the inbox; only ``supervisor`` and ``admin`` publish and roll back. No token → 401, another
role → 403. Every change is written to the audit log (``GET /api/v1/kb/audit``).

Drafts carry a ``revision``: send the one you loaded (body ``revision`` or ``If-Match``) when
saving; if someone saved in between you get 409 ``edit_conflict`` and nothing changes.
Publishing turns all drafts into one numbered release; the retrieval service builds the new
index aside and swaps it in (``GET /api/v1/kb/status`` → ``serving_release``, also in
``/health``). A rollback to release *n* is a new release whose content equals *n*.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Header, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from api.channels.wechat.render import render_messages
from api.core.config import Settings
from api.core.errors import ApiError
from api.deps import (
    KBDep,
    KBEditorStaff,
    KBPublisherStaff,
    ReloaderDep,
    SessionDep,
    SettingsDep,
)
from api.kbops import insights, retrieval
from api.kbops.preview import preview
from api.models import StaffUser
from api.schemas.kb import (
    AuditListPublic,
    AuditPublic,
    ConflictCheckCreate,
    ConflictListPublic,
    EntryContent,
    EntryCreate,
    EntryListPublic,
    EntryPublic,
    EntryStatsPublic,
    EntrySummary,
    EntryUpdate,
    FacetsPublic,
    HistoryPublic,
    HitTestCreate,
    HitTestPublic,
    ImportPublic,
    InboxAddCreate,
    InboxAddPublic,
    InboxPublic,
    InboxResolveCreate,
    PreviewCreate,
    PreviewPublic,
    PublishCreate,
    PublishPublic,
    ReleaseDetailPublic,
    ReleaseListPublic,
    ReleasePublic,
    RevisionIn,
    RollbackPublic,
    StatsListPublic,
    StatusPublic,
)
from knowledge_base.content import importexport
from knowledge_base.content.editor import KBEditor, build_entry, matches
from knowledge_base.content.entries import CHANNELS, Entry

router = APIRouter(prefix="/api/v1/kb", tags=["kb"])
_ETAG = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')


def _editor(db: SessionDep, settings: Settings, user: StaffUser) -> KBEditor:
    return KBEditor(db, settings.database_url, user.username, user.role,
                    seed_dir=settings.kb_seed_dir)


def _revision(body_revision: int | None, if_match: str | None) -> int:
    if body_revision is not None:
        return body_revision
    if if_match:
        match = _ETAG.match(if_match)
        if match:
            return int(match.group(1))
    raise ApiError(428, "revision_required",
                   "请带上您编辑时的版本号（revision 或 If-Match），以免覆盖别人的修改。",
                   "Send the revision you edited (body 'revision' or If-Match header).")


def _entry_response(response: Response, w: Any) -> EntryPublic:
    response.headers["ETag"] = f'"{w.revision}"'
    return EntryPublic.of_working(w)


# ---------------------------------------------------------------------------- entries


@router.get("/entries", response_model=EntryListPublic)
def list_entries(
    db: SessionDep, settings: SettingsDep, user: KBEditorStaff,
    query: Annotated[str | None, Query(max_length=200, description="text in id, questions, "
                                       "answer, category or tags")] = None,
    category: str | None = None, tag: str | None = None,
    status: Literal["draft", "published", "archived"] | None = None,
    channel: Literal["web", "app", "wechat"] | None = None,
    missing_english: Annotated[bool, Query(description="only entries without answer_en")] = False,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EntryListPublic:
    """Browse and search the working copy (drafts over live)."""
    editor = _editor(db, settings, user)
    working = editor.working_copy()
    found = [w for w in working.values()
             if matches(w, query=query, category=category, tag=tag, status=status,
                        channel=channel, missing_english=missing_english)]
    # Pending drafts first (latest edit on top), then everything else by id.
    found.sort(key=lambda w: (not w.has_draft,
                              -(w.updated_at.timestamp() if w.has_draft and w.updated_at
                                else 0.0), w.entry_id))
    start = (page - 1) * page_size
    live = editor.live_release()
    return EntryListPublic(
        items=[EntrySummary.of(w) for w in found[start:start + page_size]], total=len(found),
        page=page, page_size=page_size, live_release=live.number if live else None,
        pending_drafts=sum(1 for w in working.values() if w.has_draft))


@router.post("/entries", status_code=201, response_model=EntryPublic)
def create_entry(body: EntryCreate, response: Response, db: SessionDep,
                 settings: SettingsDep, user: KBEditorStaff) -> EntryPublic:
    """Create an entry. It is a draft until published."""
    w = _editor(db, settings, user).create(body.to_store())
    response.headers["Location"] = f"/api/v1/kb/entries/{w.entry_id}"
    return _entry_response(response, w)


@router.get("/entries/{entry_id}", response_model=EntryPublic)
def get_entry(entry_id: str, response: Response, db: SessionDep, settings: SettingsDep,
              user: KBEditorStaff) -> EntryPublic:
    """One entry's working copy (with its live version when a draft is pending)."""
    return _entry_response(response, _editor(db, settings, user).get(entry_id))


@router.patch("/entries/{entry_id}", response_model=EntryPublic,
              responses={409: {"description": "someone saved the entry in between"}})
def update_entry(entry_id: str, body: EntryUpdate, response: Response, db: SessionDep,
                 settings: SettingsDep, user: KBEditorStaff,
                 if_match: Annotated[str | None, Header()] = None) -> EntryPublic:
    """Save changed fields as the entry's draft (optimistic lock on ``revision``)."""
    expected = _revision(body.revision, if_match)
    changes = body.to_store_changes()
    if not changes:
        raise ApiError(422, "no_changes", "没有要保存的修改。", "The request changes nothing.")
    w = _editor(db, settings, user).update(entry_id, changes, expected)
    return _entry_response(response, w)


@router.delete("/entries/{entry_id}", responses={
    200: {"model": EntryPublic, "description": "archived (as a draft)"},
    204: {"description": "an unpublished new entry: its draft was removed"}})
def archive_entry(entry_id: str, response: Response, db: SessionDep, settings: SettingsDep,
                  user: KBEditorStaff,
                  revision: Annotated[int | None, Query(ge=0)] = None,
                  if_match: Annotated[str | None, Header()] = None) -> Any:
    """Take an entry offline (a draft until published); a never-published entry is deleted."""
    w = _editor(db, settings, user).archive(entry_id, _revision(revision, if_match))
    if w is None:
        return Response(status_code=204)
    return _entry_response(response, w)


@router.post("/entries/{entry_id}/discard", responses={
    200: {"model": EntryPublic}, 204: {"description": "the entry only existed as a draft"}})
def discard_draft(entry_id: str, body: RevisionIn, response: Response, db: SessionDep,
                  settings: SettingsDep, user: KBEditorStaff) -> Any:
    """Throw away the pending draft (back to the live version)."""
    w = _editor(db, settings, user).discard(entry_id, body.revision)
    if w is None:
        return Response(status_code=204)
    return _entry_response(response, w)


@router.get("/entries/{entry_id}/history", response_model=HistoryPublic)
def entry_history(entry_id: str, db: SessionDep, settings: SettingsDep,
                  user: KBEditorStaff) -> dict[str, Any]:
    """Released versions (newest first) with field diffs, and the pending draft's diff."""
    hist = _editor(db, settings, user).history(entry_id)
    for v in hist["versions"]:
        v["entry"] = EntryContent.of(v["entry"])
    if hist["draft"]:
        hist["draft"]["entry"] = EntryContent.of(hist["draft"]["entry"])
    return hist


@router.get("/entries/{entry_id}/conflicts", response_model=ConflictListPublic)
def entry_conflicts(entry_id: str, db: SessionDep, settings: SettingsDep,
                    user: KBEditorStaff, kb: KBDep) -> dict[str, Any]:
    """Similar questions of this entry that are closer to another entry than to their own."""
    editor = _editor(db, settings, user)
    editor.get(entry_id)
    content = {e.id: e for e in editor.draft_content()}
    return retrieval.conflicts(kb, content, [entry_id], settings)


@router.post("/conflicts/check", response_model=ConflictListPublic)
def check_conflicts(body: ConflictCheckCreate, db: SessionDep, settings: SettingsDep,
                    user: KBEditorStaff, kb: KBDep) -> dict[str, Any]:
    """Conflict check of an unsaved entry against the working copy (editor's 检查冲突)."""
    editor = _editor(db, settings, user)
    data = body.to_store()
    entry = build_entry({**data, "id": data["id"] or "new-000"})
    content = {e.id: e for e in editor.draft_content()}
    content[entry.id] = entry
    return retrieval.conflicts(kb, content, [entry.id], settings)


@router.get("/conflicts", response_model=ConflictListPublic)
def all_conflicts(db: SessionDep, settings: SettingsDep, user: KBEditorStaff,
                  kb: KBDep, scope: Literal["drafts", "all"] = "drafts") -> dict[str, Any]:
    """Conflicts of every pending draft (``scope=drafts``) or of the whole working copy."""
    editor = _editor(db, settings, user)
    content = {e.id: e for e in editor.draft_content()}
    ids = list(content) if scope == "all" else [w.entry_id for w in editor.pending()]
    return retrieval.conflicts(kb, content, ids, settings)


@router.get("/entries/{entry_id}/stats", response_model=EntryStatsPublic)
def one_entry_stats(entry_id: str, db: SessionDep,
                    settings: SettingsDep, user: KBEditorStaff,
                    days: Annotated[int, Query(ge=1, le=3650)] = 30) -> EntryStatsPublic:
    """Hits, helpful / not helpful and handoffs right after the answer."""
    w = _editor(db, settings, user).get(entry_id)
    found = insights.entry_stats(db, since=insights.since_days(days),
                                 handoff_turns=settings.kb_stats_handoff_turns,
                                 entry_id=entry_id)
    s = found.get(entry_id, insights.EntryStats(entry_id))
    return EntryStatsPublic(question=w.current.question, **s.__dict__)


@router.get("/facets", response_model=FacetsPublic)
def facets(db: SessionDep, settings: SettingsDep, user: KBEditorStaff) -> FacetsPublic:
    """Values for the console's filters."""
    working = _editor(db, settings, user).working_copy().values()
    return FacetsPublic(categories=sorted({w.current.category for w in working}),
                        tags=sorted({t for w in working for t in w.current.tags}),
                        channels=list(CHANNELS), statuses=["draft", "published", "archived"])


@router.post("/preview", response_model=PreviewPublic)
def preview_answer(body: PreviewCreate, settings: SettingsDep,
                   user: KBEditorStaff) -> dict[str, Any]:
    """How an answer renders on the web widget and on WeChat."""
    answer = body.answer if isinstance(body.answer, str) else body.answer.model_dump()
    # Validated through a throwaway entry, so the answer rules (URLs, button payloads, at
    # most 3 buttons) give the same Chinese messages as saving would.
    probe = build_entry({"id": "preview-000", "category": "预览", "question": "预览",
                         "similar": ["预览一", "预览二", "预览三", "预览四"],
                         "answer": {"text": answer} if isinstance(answer, str) else answer})
    return preview(probe.answer, body.channels, settings, render_messages)


# ---------------------------------------------------------------------------- releases


@router.post("/publish", response_model=PublishPublic,
             responses={409: {"description": "nothing to publish, or a publish raced"}})
async def publish_drafts(db: SessionDep, settings: SettingsDep, user: KBPublisherStaff,
                         reloader: ReloaderDep, body: PublishCreate | None = None
                         ) -> PublishPublic:
    """Publish every draft as a new numbered release; the bot switches to it in seconds."""
    editor = _editor(db, settings, user)
    result = await run_in_threadpool(editor.publish_drafts, body.note if body else None)
    serving = await reloader.activate(result.release, settings.kb_publish_wait_seconds)
    return PublishPublic(release=result.release, created=result.created,
                         updated=result.updated, archived=result.archived,
                         restored=result.restored, serving_release=serving)


@router.post("/releases/{number}/rollback", response_model=RollbackPublic)
async def rollback(number: int, db: SessionDep, settings: SettingsDep,
                   user: KBPublisherStaff, reloader: ReloaderDep,
                   body: PublishCreate | None = None) -> RollbackPublic:
    """Make release ``number``'s content live again (as a new release)."""
    editor = _editor(db, settings, user)
    release, changed = await run_in_threadpool(editor.rollback, number,
                                               body.note if body else None)
    serving = await reloader.activate(release, settings.kb_publish_wait_seconds)
    return RollbackPublic(release=release, rolled_back_to=number, changed=changed,
                          serving_release=serving)


def _release_public(r: Any, live: int | None) -> dict[str, Any]:
    created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
    return {"number": r.number, "created_at": created, "source": r.source,
            "created_by": r.created_by, "note": r.note, "entry_count": r.entry_count,
            "live": r.number == live}


@router.get("/releases", response_model=ReleaseListPublic)
def releases(db: SessionDep, settings: SettingsDep, user: KBEditorStaff, reloader: ReloaderDep,
             limit: Annotated[int, Query(ge=1, le=500)] = 50) -> ReleaseListPublic:
    """Releases, newest first."""
    editor = _editor(db, settings, user)
    live = editor.live_release()
    number = live.number if live else None
    return ReleaseListPublic(
        items=[ReleasePublic(**_release_public(r, number)) for r in editor.releases(limit)],
        live_release=number, serving_release=reloader.serving_release())


@router.get("/releases/{number}", response_model=ReleaseDetailPublic)
def release_detail(number: int, db: SessionDep, settings: SettingsDep,
                   user: KBEditorStaff) -> ReleaseDetailPublic:
    """One release and what it changed compared with the previous one."""
    editor = _editor(db, settings, user)
    diff = editor.release_diff(number)
    live = editor.live_release()
    row = next(r for r in editor.releases(limit=100000) if r.number == number)
    return ReleaseDetailPublic(**_release_public(row, live.number if live else None), **diff)


@router.get("/status", response_model=StatusPublic)
def kb_status(db: SessionDep, settings: SettingsDep, user: KBEditorStaff,
              reloader: ReloaderDep) -> StatusPublic:
    """Newest release, the release the bot serves, and how many drafts wait."""
    editor = _editor(db, settings, user)
    live = editor.live_release()
    return StatusPublic(live_release=live.number if live else None,
                        serving_release=reloader.serving_release(),
                        pending_drafts=len(editor.pending()))


@router.get("/audit", response_model=AuditListPublic)
def audit(db: SessionDep, settings: SettingsDep, user: KBEditorStaff,
          entry_id: str | None = None, actor: str | None = None, action: str | None = None,
          limit: Annotated[int, Query(ge=1, le=500)] = 100,
          offset: Annotated[int, Query(ge=0)] = 0) -> AuditListPublic:
    """Audit log of every KB change (who, when, what), newest first."""
    rows, total = _editor(db, settings, user).audit_log(
        entry_id=entry_id, actor=actor, action=action, limit=limit, offset=offset)
    return AuditListPublic(items=[AuditPublic.model_validate(r, from_attributes=True)
                                  for r in rows], total=total)


# ---------------------------------------------------------------------------- retrieval


@router.post("/hit-test", response_model=HitTestPublic)
def hit_test(body: HitTestCreate, db: SessionDep, settings: SettingsDep,
             user: KBEditorStaff, kb: KBDep) -> dict[str, Any]:
    """Top-k entries and the bot's decision (answer / clarify / fallback) under the current
    thresholds, for the live release and for the drafts."""
    query = body.query.strip()
    if not query:
        raise ApiError(422, "empty_query", "请输入要测试的问题。", "query must not be blank")
    editor = _editor(db, settings, user)
    pending = editor.pending()
    draft_entries = editor.draft_content() if pending else None
    return retrieval.hit_test(kb, query, body.channel, body.top_k, draft_entries, settings,
                              pending=len(pending))


# ---------------------------------------------------------------------------- import/export


@router.get("/export", responses={200: {"content": {
    importexport.MEDIA_TYPES["xlsx"]: {}, importexport.MEDIA_TYPES["csv"]: {}}}})
def export(db: SessionDep, settings: SettingsDep, user: KBEditorStaff,
           format: Literal["xlsx", "csv"] = "xlsx",
           version: Literal["draft", "live"] = "draft") -> Response:
    """Download the KB (working copy with drafts, or the live release) as Excel or CSV."""
    editor = _editor(db, settings, user)
    entries: list[Entry] = (editor.draft_content() if version == "draft"
                            else list(editor.live_entries().values()))
    body = (importexport.export_xlsx(entries) if format == "xlsx"
            else importexport.export_csv(entries))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(content=body, media_type=importexport.MEDIA_TYPES[format], headers={
        "Content-Disposition": f'attachment; filename="kb-{version}-{stamp}.{format}"'})


@router.post("/import", status_code=201, response_model=ImportPublic,
             responses={200: {"description": "dry run: the report only"},
                        422: {"description": "refused: the report names every bad row"}})
def import_entries(
    db: SessionDep, settings: SettingsDep, user: KBEditorStaff, response: Response,
    file: Annotated[UploadFile, File(description=".xlsx or .csv, one entry per row")],
    dry_run: Annotated[bool, Query(description="validate only")] = False,
) -> ImportPublic:
    """Import entries as drafts: all rows or none (422 with a per-row report)."""
    # A plain `def`: parsing and checking a big sheet is CPU work for the threadpool.
    name = file.filename or ""
    importexport.file_kind(name)
    content = file.file.read(settings.kb_import_max_bytes + 1)
    if len(content) > settings.kb_import_max_bytes:
        raise ApiError(413, "file_too_large",
                       f"文件太大（上限 {settings.kb_import_max_bytes // 1024 // 1024} MB）。",
                       f"File exceeds {settings.kb_import_max_bytes} bytes.")
    editor = _editor(db, settings, user)
    rows = importexport.read_table(content, name)
    working = {k: w.current for k, w in editor.working_copy().items()}
    start = int(editor.new_id().rsplit("-", 1)[1])
    report = importexport.validate_import(rows, working, start, settings.kb_import_max_rows)
    if not report.ok:
        bad = report.bad_rows
        shown = "、".join(str(r) for r in bad[:20]) + ("等" if len(bad) > 20 else "")
        raise ApiError(422, "import_invalid",
                       f"导入被拒绝：{len(bad)} 行有问题（第 {shown} 行），没有任何内容被修改。",
                       f"Import refused: {len(bad)} bad row(s); nothing was changed.",
                       report=report.as_dict())
    if dry_run:
        response.status_code = 200
        return ImportPublic(created=[e.id for e in report.entries if e.id not in working],
                            updated=[e.id for e in report.entries if e.id in working],
                            unchanged=0, report=report.as_dict())
    result = editor.import_drafts(report.entries, name)
    return ImportPublic(created=result["created"], updated=result["updated"],
                        unchanged=len(result["unchanged"]), report=report.as_dict())


# ---------------------------------------------------------------------------- inbox & stats


@router.get("/inbox", response_model=InboxPublic)
def inbox(db: SessionDep, settings: SettingsDep, user: KBEditorStaff,
          kb: KBDep, days: Annotated[int, Query(ge=1, le=365)] = 30,
          limit: Annotated[int, Query(ge=1, le=200)] = 50,
          from_: Annotated[date | None, Query(alias="from", description=(
              "first day (YYYY-MM-DD, INSIGHTS_UTC_OFFSET_HOURS local time); with `to` it "
              "replaces `days` (the insights dashboard's range)"))] = None,
          to: Annotated[date | None, Query(description="last day, inclusive")] = None,
          ) -> dict[str, Any]:
    """Questions the KB did not serve well, grouped by meaning, the group that would help the
    most cardholders first."""
    since, until = insights.since_days(days), None
    if from_ is not None or to is not None:
        if from_ is None or to is None:
            raise ApiError(422, "range_incomplete", "请同时指定开始日期和结束日期。",
                           "`from` and `to` go together.")
        if from_ > to:
            raise ApiError(422, "invalid_range", "开始日期不能晚于结束日期。",
                           "`from` is after `to`.")
        if (to - from_).days > 366:
            raise ApiError(422, "range_too_long", "日期范围最长一年。",
                           "The range is limited to 366 days.")
        zone = timezone(timedelta(hours=settings.insights_utc_offset_hours))
        since = datetime.combine(from_, time(0), zone).astimezone(UTC)
        until = datetime.combine(to + timedelta(days=1), time(0), zone).astimezone(UTC)
        days = (to - from_).days + 1
    items = insights.collect_items(db, since=since, until=until,
                                   low_confidence=settings.kb_inbox_low_confidence,
                                   confidence_margin=settings.kb_inbox_confidence_margin,
                                   handoff_turns=settings.kb_stats_handoff_turns)
    groups, total = insights.group_items(
        items, insights.resolved_keys(db),
        lambda texts: retrieval.cluster_vectors(kb, texts, settings),
        settings.kb_inbox_cluster_distance, settings.kb_inbox_max_questions)
    out = []
    for group in groups[:limit]:
        out.append(insights.group_public(
            group, retrieval.suggest(kb, group.representative, settings)))
    return {"items": out, "total_questions": total, "days": days}


@router.post("/inbox/add-to-entry", response_model=InboxAddPublic)
def inbox_add(body: InboxAddCreate, db: SessionDep, settings: SettingsDep,
              user: KBEditorStaff) -> InboxAddPublic:
    """Add a group's questions as similar questions of an entry (a draft; optimistic lock)."""
    editor = _editor(db, settings, user)
    w, added = editor.add_similar(body.entry_id, body.texts, body.revision)
    insights.mark_resolved(db, body.texts, "added", body.entry_id, user.username)
    db.commit()
    return InboxAddPublic(entry=EntryPublic.of_working(w), added=added)


@router.post("/inbox/resolve")
def inbox_resolve(body: InboxResolveCreate, db: SessionDep, settings: SettingsDep,
                  user: KBEditorStaff) -> dict[str, int]:
    """Take questions out of the inbox: dismissed, or turned into a new entry."""
    editor = _editor(db, settings, user)
    if body.resolution == "new_entry":
        if not body.entry_id:
            raise ApiError(422, "entry_required", "请指明新建的条目。",
                           "entry_id is required for resolution new_entry")
        editor.get(body.entry_id)
    count = insights.mark_resolved(db, body.texts, body.resolution, body.entry_id,
                                   user.username)
    label = "已忽略" if body.resolution == "dismissed" else "已新建条目"
    editor.audit("inbox", f"待处理问题：{count} 条标记为{label}", entry_id=body.entry_id,
                 details={"texts": body.texts[:50], "resolution": body.resolution})
    db.commit()
    return {"resolved": count}


@router.get("/stats", response_model=StatsListPublic)
def stats(db: SessionDep, settings: SettingsDep, user: KBEditorStaff,
          days: Annotated[int, Query(ge=1, le=3650)] = 30,
          limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> StatsListPublic:
    """Per-entry hits, helpful / not helpful and handoffs after the answer, most hits first."""
    questions = {k: w.current.question
                 for k, w in _editor(db, settings, user).working_copy().items()}
    found = insights.entry_stats(db, since=insights.since_days(days),
                                 handoff_turns=settings.kb_stats_handoff_turns)
    items = sorted(found.values(), key=lambda s: (-s.hits, s.entry_id))[:limit]
    return StatsListPublic(items=[EntryStatsPublic(question=questions.get(s.entry_id),
                                                   **s.__dict__) for s in items], days=days)
