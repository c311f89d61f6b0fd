"""Pydantic models of the KB console API (``/api/v1/kb``).

Input models only check types; the content rules (at least 4 similar questions, URL and button
formats, dates in order, no question shared with another entry) are the store's and come back
as 422s with a Chinese message per field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.chat import Button
from knowledge_base.content.editor import WorkingEntry
from knowledge_base.content.entries import CHANNELS, Entry

ChannelName = Literal["web", "app", "wechat"]


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    url: str
    title_en: str | None = Field(None, description="English title (optional; issue 19)")


class AnswerButton(Button):
    """An answer button as the console edits it: the chat button plus its English title."""

    title_en: str | None = Field(
        None, description="English title (optional; issue 19). Without it English cardholders "
                          "see the target entry's English title or the intent's English label")


class AnswerIn(BaseModel):
    """A rich answer: text plus up to 3 buttons, links and one image URL."""

    model_config = ConfigDict(extra="forbid")

    text: str
    # ``/intent`` or ``/faq{"kb_entry_id":"…"}``; the store checks the shape (Chinese 422s).
    buttons: list[AnswerButton] = Field(default_factory=list)
    links: list[LinkIn] = Field(default_factory=list)
    image: str | None = None


def _answer_data(answer: AnswerIn | str) -> dict[str, Any]:
    if isinstance(answer, str):
        return {"text": answer, "buttons": [], "links": [], "image": None}
    return answer.model_dump()


class EntryCreate(BaseModel):
    """A new entry. It starts as a draft; the bot uses it once a supervisor publishes."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "standard_question": "信用卡可以绑定哪些手机支付",
        "similar_questions": ["信用卡能绑支付宝吗", "怎么把信用卡加到微信支付",
                              "信用卡可以绑 Apple Pay 吗", "手机支付能用信用卡吗"],
        "answer": {"text": "本行信用卡支持绑定微信支付、支付宝、云闪付和 Apple Pay。",
                   "buttons": [{"title": "转人工", "payload": "/request_human"}],
                   "links": [], "image": None},
        "category": "绑定支付", "tags": ["绑卡"], "channels": ["web", "app", "wechat"]}})

    id: str | None = Field(None, description="optional; e.g. pay-010 (default: kb-NNN)")
    standard_question: str
    similar_questions: list[str] = Field(default_factory=list)
    answer: AnswerIn | str
    answer_en: str | None = Field(None, max_length=4000,
                                  description="English answer (optional; issue 19)")
    question_en: str | None = Field(None, max_length=200,
                                    description="English title of the entry (optional; issue 19)")
    category: str
    tags: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=lambda: list(CHANNELS))
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool = Field(True, description="false = archived (the bot does not use it)")

    def to_store(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.standard_question,
                "similar": list(self.similar_questions), "answer": _answer_data(self.answer),
                "answer_en": self.answer_en, "question_en": self.question_en,
                "category": self.category, "tags": list(self.tags),
                "channels": list(self.channels), "valid_from": self.valid_from,
                "valid_to": self.valid_to,
                "status": "published" if self.active else "archived"}


class EntryUpdate(BaseModel):
    """Changed fields of an entry, plus the revision they were based on (optimistic lock).

    The revision may also be sent as ``If-Match: "<revision>"``."""

    model_config = ConfigDict(extra="forbid")

    revision: int | None = Field(None, ge=0, description="revision the edit is based on")
    standard_question: str | None = None
    similar_questions: list[str] | None = None
    answer: AnswerIn | str | None = None
    answer_en: str | None = Field(None, max_length=4000, description="null or \"\" clears it")
    question_en: str | None = Field(None, max_length=200, description="null or \"\" clears it")
    category: str | None = None
    tags: list[str] | None = None
    channels: list[str] | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool | None = None

    def to_store_changes(self) -> dict[str, Any]:
        given = self.model_fields_set - {"revision"}
        mapping = {"standard_question": "question", "similar_questions": "similar"}
        out: dict[str, Any] = {}
        for name in given:
            value = getattr(self, name)
            if name == "answer":
                if value is not None:
                    out["answer"] = _answer_data(value)
            elif name == "active":
                if value is not None:
                    out["status"] = "published" if value else "archived"
            elif value is not None or name in ("valid_from", "valid_to", "answer_en",
                                                  "question_en"):
                out[mapping.get(name, name)] = value
        return out


class RevisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revision: int = Field(ge=0)


class AnswerPublic(BaseModel):
    text: str
    # ``/intent`` or ``/faq{"kb_entry_id":"…"}``; the store checks the shape (Chinese 422s).
    buttons: list[AnswerButton] = Field(default_factory=list)
    links: list[LinkIn] = Field(default_factory=list)
    image: str | None = None


class EntryContent(BaseModel):
    """An entry's content (one version)."""

    id: str
    standard_question: str
    similar_questions: list[str]
    answer: AnswerPublic
    answer_en: str | None = None
    question_en: str | None = None
    category: str
    tags: list[str]
    channels: list[str]
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool

    @classmethod
    def of(cls, entry: Entry) -> EntryContent:
        return cls(id=entry.id, standard_question=entry.question,
                   similar_questions=list(entry.similar),
                   answer=AnswerPublic.model_validate(entry.answer.model_dump()),
                   answer_en=entry.answer_en, question_en=entry.question_en,
                   category=entry.category, tags=list(entry.tags),
                   channels=list(entry.channels), valid_from=entry.valid_from,
                   valid_to=entry.valid_to, active=entry.status != "archived")


class EntryPublic(EntryContent):
    """An entry's working copy (its draft if one is pending, else the live version)."""

    status: Literal["draft", "published", "archived"] = Field(
        description="draft = unpublished changes; published / archived = as live")
    pending_action: Literal["create", "update", "archive", "restore"] | None = None
    revision: int = Field(description="send it back when saving (optimistic lock)")
    has_draft: bool
    is_live: bool = Field(description="a published version exists")
    live: EntryContent | None = Field(None, description="the live version, if any")
    live_since_release: int | None = None
    updated_by: str | None = None
    updated_at: datetime | None = None

    @classmethod
    def of_working(cls, w: WorkingEntry) -> EntryPublic:
        base = EntryContent.of(w.current).model_dump()
        return cls(**base, status=w.status,  # type: ignore[arg-type]
                   pending_action=w.pending_action,  # type: ignore[arg-type]
                   revision=w.revision, has_draft=w.has_draft,
                   is_live=w.live is not None,
                   live=EntryContent.of(w.live) if w.live is not None and w.draft else None,
                   live_since_release=w.live_since, updated_by=w.updated_by,
                   updated_at=w.updated_at)


class EntrySummary(BaseModel):
    id: str
    standard_question: str
    category: str
    tags: list[str]
    channels: list[str]
    status: str
    pending_action: str | None = None
    similar_count: int
    has_english: bool = Field(description="the entry has an English answer (answer_en)")
    revision: int
    updated_by: str | None = None
    updated_at: datetime | None = None
    valid_from: date | None = None
    valid_to: date | None = None

    @classmethod
    def of(cls, w: WorkingEntry) -> EntrySummary:
        e = w.current
        return cls(id=e.id, standard_question=e.question, category=e.category,
                   tags=list(e.tags), channels=list(e.channels), status=w.status,
                   pending_action=w.pending_action, similar_count=len(e.similar),
                   has_english=bool(e.answer_en),
                   revision=w.revision, updated_by=w.updated_by, updated_at=w.updated_at,
                   valid_from=e.valid_from, valid_to=e.valid_to)


class EntryListPublic(BaseModel):
    items: list[EntrySummary]
    total: int
    page: int
    page_size: int
    live_release: int | None
    pending_drafts: int


class FacetsPublic(BaseModel):
    categories: list[str]
    tags: list[str]
    channels: list[str]
    statuses: list[str]


class PublishCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=500)


class PublishPublic(BaseModel):
    release: int
    created: list[str]
    updated: list[str]
    archived: list[str]
    restored: list[str]
    serving_release: int | None = Field(
        None, description="release the bot answers from right now (the swap takes seconds)")


class RollbackPublic(BaseModel):
    release: int = Field(description="the new release (its content equals the target)")
    rolled_back_to: int
    changed: list[str]
    serving_release: int | None = None


class ReleasePublic(BaseModel):
    number: int
    created_at: datetime
    source: str
    created_by: str | None = None
    note: str | None = None
    entry_count: int
    live: bool


class ReleaseDetailPublic(ReleasePublic):
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[dict[str, Any]]


class ReleaseListPublic(BaseModel):
    items: list[ReleasePublic]
    live_release: int | None
    serving_release: int | None


class VersionPublic(BaseModel):
    release_from: int
    release_to: int | None
    source: str | None
    created_by: str | None
    created_at: datetime | None
    entry: EntryContent
    changes: list[dict[str, Any]]


class DraftVersionPublic(BaseModel):
    revision: int
    updated_by: str | None
    updated_at: datetime | None
    entry: EntryContent
    changes: list[dict[str, Any]]


class HistoryPublic(BaseModel):
    entry_id: str
    versions: list[VersionPublic] = Field(description="newest first")
    draft: DraftVersionPublic | None


class AuditPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    role: str
    action: str
    entry_id: str | None
    release: int | None
    revision: int | None
    summary: str
    details: dict[str, Any] | None


class AuditListPublic(BaseModel):
    items: list[AuditPublic]
    total: int


class StatusPublic(BaseModel):
    live_release: int | None = Field(description="newest release in the database")
    serving_release: int | None = Field(description="release the bot answers from")
    pending_drafts: int


class HitTestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=500)
    channel: ChannelName = "web"
    top_k: int = Field(5, ge=1, le=20)


class HitPublic(BaseModel):
    entry_id: str
    question: str
    matched_question: str | None = None
    category: str | None = None
    score: float


class HitTestSide(BaseModel):
    release: int | None = Field(None, description="live: release number; draft: null")
    decision: Literal["answer", "clarify", "fallback"]
    would: str = Field(description="what the bot would do, in Chinese")
    hits: list[HitPublic]
    thresholds: dict[str, float] = Field(description="calibrated thresholds (live release)")
    confidence: dict[str, float] | None = Field(
        None, description="P(top hit right) and P(right entry in top 3) for this query")


class HitTestPublic(BaseModel):
    query: str
    live: HitTestSide
    draft: HitTestSide
    pending_drafts: int


class ConflictPublic(BaseModel):
    entry_id: str
    question: str
    own_score: float | None = Field(description="best similarity to its own entry's questions")
    own_question: str | None
    other_entry_id: str
    other_question: str
    other_score: float
    message: str


class ConflictListPublic(BaseModel):
    items: list[ConflictPublic]
    checked_questions: int


class ConflictCheckCreate(EntryCreate):
    """An unsaved entry to check (``id`` of the entry being edited, if any)."""


class PreviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: AnswerIn | str
    channels: list[str] = Field(default_factory=lambda: list(CHANNELS))


class WeChatMessagePublic(BaseModel):
    kind: Literal["text", "news"]
    text: str = ""
    article: dict[str, str] | None = None


class PreviewPublic(BaseModel):
    web: list[dict[str, Any]] = Field(description="messages as the web/app widget gets them")
    wechat: list[WeChatMessagePublic] = Field(description="messages as WeChat sends them")
    wechat_options: list[dict[str, str]] = Field(
        description="numbered options: replying 1, 2, … sends the option's payload")
    notes: list[str]


class ImportPublic(BaseModel):
    created: list[str]
    updated: list[str]
    unchanged: int
    report: dict[str, Any]


class InboxClusterPublic(BaseModel):
    key: str
    count: int
    users: int = Field(0, description="distinct cardholders who asked (the ranking key)")
    conversations: int = Field(0, description="distinct conversations")
    kinds: dict[str, int]
    representative: str
    samples: list[dict[str, Any]] = Field(description="distinct utterances, most frequent first")
    texts: list[str] = Field(description="every distinct utterance of the group")
    last_at: datetime | None
    suggestion: HitPublic | None = Field(None, description="nearest live entry")


class InboxPublic(BaseModel):
    items: list[InboxClusterPublic]
    total_questions: int
    days: int


class InboxAddCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entry_id: str
    revision: int = Field(ge=0)
    texts: list[str] = Field(min_length=1, max_length=200)


class InboxResolveCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(min_length=1, max_length=500)
    resolution: Literal["dismissed", "new_entry"] = "dismissed"
    entry_id: str | None = None


class InboxAddPublic(BaseModel):
    entry: EntryPublic
    added: list[str]


class EntryStatsPublic(BaseModel):
    entry_id: str
    question: str | None = None
    hits: int
    helpful: int
    not_helpful: int
    handoffs_after: int = Field(description="answers followed by a handoff in the next turn")
    last_hit_at: datetime | None = None


class StatsListPublic(BaseModel):
    items: list[EntryStatsPublic]
    days: int
