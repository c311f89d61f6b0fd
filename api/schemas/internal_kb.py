"""Pydantic models of the internal retrieval API (POST /internal/v1/kb/search)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_QUERY_CHARS = 500


class KBSearchRequest(BaseModel):
    """Exactly one of `query` (free text) or `entry_id` (a button the cardholder clicked)."""

    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(default=None, description="1–500 characters after trimming")
    entry_id: str | None = Field(default=None, min_length=1, max_length=64)
    channel: Literal["web", "app", "wechat"] = "web"
    top_k: int = Field(default=5, ge=1, le=20)

    @field_validator("query")
    @classmethod
    def _query_length(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise ValueError("query is empty")
        if len(value) > MAX_QUERY_CHARS:
            raise ValueError(f"query is longer than {MAX_QUERY_CHARS} characters")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> KBSearchRequest:
        if (self.query is None) == (self.entry_id is None):
            raise ValueError("send exactly one of query or entry_id")
        return self


class KBAnswer(BaseModel):
    text: str
    buttons: list[dict[str, str]] = Field(
        default_factory=list,
        description="{title, payload} plus title_en: the English title a cardholder sees (the "
                    "button's own, the target entry's question_en or the intent's label; "
                    "absent: none, issue 19)")
    links: list[dict[str, str]] = Field(
        default_factory=list, description="{title, url} plus title_en when it has one")
    image: str | None = None


class KBRelated(BaseModel):
    entry_id: str
    question: str
    question_en: str | None = Field(default=None, description="English title, if the entry has one")


class KBHit(BaseModel):
    entry_id: str
    question: str
    category: str
    score: float = Field(description="Entry score on the cosine scale (1.0 for entry_id lookups)")
    matched_question: str
    answer: KBAnswer
    answer_en: str | None = Field(
        default=None, description="English answer text (issue 19); null: the entry has none")
    question_en: str | None = Field(
        default=None, description="English title of the entry (issue 19); null: none")
    related: list[KBRelated] = Field(description="猜你想问: up to 3 neighbouring entries")


class KBOtherIssuer(BaseModel):
    name: str = Field(description="The other bank's name (招商银行)")
    product: str | None = Field(default=None, description="A product only that bank has")
    note: str = Field(description="Chinese note for the cardholder")


class KBSubQuestion(BaseModel):
    text: str
    entry_id: str | None = None
    question: str | None = Field(default=None, description="Standard question of that entry")


class KBSearchResponse(BaseModel):
    decision: Literal["answer", "clarify", "fallback"]
    release: int
    thresholds: dict[str, float] = Field(
        description="Calibrated thresholds: `answer` on P(top hit right), "
                    "`clarify` on P(right entry in the top 3); `real_*` of the real-language "
                    "models, `en_*` of the English ones (applied to English queries only)")
    confidence: dict[str, float] | None = Field(
        default=None, description="This query's P(top hit right) and P(right entry in top 3) "
                                  "per model (`en_*` only for an English query)")
    corrected_query: str | None = Field(
        default=None, description="The query as searched when homophone typos of card terms "
                                  "were corrected (注消 -> 注销); null when unchanged")
    query_normalized: str | None = Field(
        default=None, description="The text searched after query understanding (bank names, "
                                  "filler and courtesy, trailing context removed; the main "
                                  "question of several); null when unchanged")
    other_issuer: KBOtherIssuer | None = Field(
        default=None, description="Another bank the query named as the card's issuer")
    sub_questions: list[KBSubQuestion] = Field(
        default_factory=list, description="The other questions of a multi-question message, "
                                          "with the entry that would answer each (if any)")
    hits: list[KBHit]
