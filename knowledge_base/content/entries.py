"""KB entries: the entry schema (also the seed YAML schema), its content rules, and the seed
import with its validation. Every problem is reported together, as ``file: entry: message``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from vocab.buttons import resolved_title_en

logger = logging.getLogger(__name__)

CHANNELS = ("web", "app", "wechat")
Channel = Literal["web", "app", "wechat"]
Status = Literal["published", "draft", "archived"]
MIN_SIMILAR = 4
MAX_BUTTONS = 3
ENTRY_ID_RE = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*-\d{3,}$")
INTENT_PAYLOAD_RE = re.compile(r"^/[a-z][a-z0-9_]*$")
FAQ_PAYLOAD_RE = re.compile(r"^/faq(\{.*\})$")
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$")
_PUNCT_RE = re.compile(r"[\s\W_]+", re.UNICODE)


def normalize_question(text: str) -> str:
    """Key for duplicate detection: NFKC, lower case, no whitespace or punctuation."""
    return _PUNCT_RE.sub("", unicodedata.normalize("NFKC", text).lower())


# ---------------------------------------------------------------------------- entry schema


def _blank_is_none(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip() or None
    return value


class _EnglishTitled(BaseModel):
    """A button or link with an optional English title (issue 19). Without one, the dump
    leaves `title_en` out: stored answers, exports and fingerprints of content written before
    the field existed stay as they were."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("title_en", mode="before", check_fields=False)
    @classmethod
    def _strip_title_en(cls, value: Any) -> Any:
        return _blank_is_none(value)

    @model_serializer(mode="wrap")
    def _drop_empty_english(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("title_en") is None:
            data.pop("title_en", None)
        return data


class Button(_EnglishTitled):
    title: str = Field(min_length=1, max_length=40)
    payload: str
    # English title (issue 19); without it English cardholders see the target entry's
    # question_en or the intent's label (vocab/buttons.py). Same length rule as `title`.
    title_en: str | None = Field(default=None, min_length=1, max_length=40)

    @field_validator("payload")
    @classmethod
    def _payload_shape(cls, value: str) -> str:
        if INTENT_PAYLOAD_RE.match(value):
            return value
        match = FAQ_PAYLOAD_RE.match(value)
        if not match:
            raise ValueError(f"payload {value!r} must be '/intent' or "
                             "'/faq{\"kb_entry_id\":\"<id>\"}'")
        try:
            body = json.loads(match.group(1))
        except ValueError as exc:
            raise ValueError(f"payload {value!r} carries invalid JSON") from exc
        if set(body) != {"kb_entry_id"} or not isinstance(body["kb_entry_id"], str):
            raise ValueError(f"payload {value!r} must carry exactly one kb_entry_id")
        return value

    def target_entry(self) -> str | None:
        """The entry a '/faq{...}' button points at, if any."""
        match = FAQ_PAYLOAD_RE.match(self.payload)
        return json.loads(match.group(1))["kb_entry_id"] if match else None


class Link(_EnglishTitled):
    title: str = Field(min_length=1)
    url: str = Field(pattern=URL_RE.pattern)
    title_en: str | None = Field(default=None, min_length=1)  # issue 19 (like `title`)


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    buttons: list[Button] = Field(default_factory=list, max_length=MAX_BUTTONS)
    links: list[Link] = Field(default_factory=list)
    image: str | None = Field(default=None, pattern=URL_RE.pattern)

    @field_validator("buttons", "links", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("answer text is blank")
        return value.strip()

    def served(self, question_en_of: Callable[[str], str | None]) -> dict[str, Any]:
        """The answer as the KB search serves it: each button's `title_en` is the English
        title a cardholder sees (its own, else the target entry's question_en via
        ``question_en_of``, else the intent's label; absent when only Chinese is left, see
        vocab/buttons.py). Payloads are unchanged."""
        data = self.model_dump(mode="json")
        for button in data["buttons"]:
            english = resolved_title_en(button, question_en_of)
            if english:
                button["title_en"] = english
        return data


def _all_channels() -> list[Channel]:
    return ["web", "app", "wechat"]


class Entry(BaseModel):
    """One KB entry as stored in a release (also the seed YAML schema)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ENTRY_ID_RE.pattern, max_length=64)
    category: str = Field(min_length=1, max_length=64)
    question: str = Field(min_length=1, max_length=200)
    similar: list[str]
    answer: Answer
    # English answer text (issue 19), shown to English-speaking cardholders; optional: without
    # it they get the Chinese answer with an English note. Plain text, same facts as `answer`.
    answer_en: str | None = Field(default=None, max_length=4000)
    # English title of the entry (issue 19): the label of English clarify buttons and of the
    # ops console's English view. Optional; without it English buttons show `question`.
    question_en: str | None = Field(default=None, max_length=200)
    tags: list[str] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=lambda: _all_channels(), min_length=1)
    valid_from: date | None = None
    valid_to: date | None = None
    status: Status = "published"

    @field_validator("answer_en", "question_en", mode="before")
    @classmethod
    def _strip_en(cls, value: Any) -> Any:
        return _blank_is_none(value)

    @field_validator("tags", "channels", mode="before")
    @classmethod
    def _none_list(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("question", "category")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("similar")
    @classmethod
    def _similar(cls, value: list[str]) -> list[str]:
        cleaned = [str(s).strip() for s in value]
        if any(not s for s in cleaned):
            raise ValueError("similar questions must not be blank")
        if len(cleaned) < MIN_SIMILAR:
            raise ValueError(f"needs at least {MIN_SIMILAR} similar questions, has {len(cleaned)}")
        return cleaned

    @model_validator(mode="after")
    def _consistent(self) -> Entry:
        keys = [normalize_question(q) for q in self.questions]
        if len(set(keys)) != len(keys):
            raise ValueError("question and similar questions repeat each other")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels repeat")
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise ValueError(f"valid_from {self.valid_from} is after valid_to {self.valid_to}")
        return self

    @property
    def questions(self) -> list[str]:
        """The standard question followed by the similar ones."""
        return [self.question, *self.similar]

    @property
    def search_questions(self) -> list[str]:
        """The questions retrieval indexes: ``questions`` then ``question_en`` (issue 19).

        The English title is a row of its own so English queries meet an English phrasing of
        every entry that has one, not only its few English similar questions. It comes last:
        the standard question stays row 0 of the entry, and an entry without ``question_en``
        keeps exactly the rows it had. A title that repeats one of the entry's questions is
        not indexed twice."""
        rows = self.questions
        if self.question_en and normalize_question(self.question_en) not in {
                normalize_question(q) for q in rows}:
            rows = [*rows, self.question_en]
        return rows

    def is_live(self, channel: str, today: date) -> bool:
        """Published, offered on ``channel`` and inside its validity window on ``today``."""
        return (self.status == "published" and channel in self.channels
                and (self.valid_from is None or self.valid_from <= today)
                and (self.valid_to is None or today <= self.valid_to))

    def fingerprint(self) -> str:
        data = self.model_dump(mode="json")
        # Entries without English keep the fingerprint they had before these fields existed.
        for name in ("answer_en", "question_en"):
            if data.get(name) is None:
                data.pop(name, None)
        return hashlib.sha256(json.dumps(data, sort_keys=True,
                                         ensure_ascii=False).encode()).hexdigest()


def content_hash(entries: Iterable[Entry]) -> str:
    """Hash of a release's full content (order-independent)."""
    digest = hashlib.sha256()
    for fp in sorted(e.fingerprint() for e in entries):
        digest.update(fp.encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------------- seed loading


class SeedError(ValueError):
    """The seed KB is invalid; ``errors`` lists every problem as 'file: entry: message'."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(f"invalid KB seed ({len(errors)} problem(s)):\n  " + "\n  ".join(errors))


def _format_validation(where: str, exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "entry"
        out.append(f"{where}: {loc}: {err.get('msg')}")
    return out


def validate_entries(located: Sequence[tuple[str, Entry]]) -> list[str]:
    """Cross-entry checks: unique ids, no question shared by two entries, button targets exist."""
    errors: list[str] = []
    seen_ids: dict[str, str] = {}
    seen_questions: dict[str, str] = {}
    for where, entry in located:
        if entry.id in seen_ids:
            errors.append(f"{where}: duplicate id {entry.id} (also in {seen_ids[entry.id]})")
        seen_ids.setdefault(entry.id, where)
    for where, entry in located:
        for q in entry.questions:
            key = normalize_question(q)
            other = seen_questions.get(key)
            if other is not None and other != entry.id:
                errors.append(f"{where}: question {q!r} duplicates one of entry {other}")
            seen_questions.setdefault(key, entry.id)
        for button in entry.answer.buttons:
            target = button.target_entry()
            if target is not None and target not in seen_ids:
                errors.append(f"{where}: button {button.title!r} points at unknown entry {target}")
    return errors


def load_seed(seed_dir: Path) -> list[Entry]:
    """Read and validate every ``*.yml`` under ``seed_dir``; raise :class:`SeedError` listing
    all problems (file and entry) when anything is wrong."""
    files = sorted([*seed_dir.glob("*.yml"), *seed_dir.glob("*.yaml")])
    if not files:
        raise SeedError([f"{seed_dir}: no *.yml seed files"])
    errors: list[str] = []
    located: list[tuple[str, Entry]] = []
    for path in files:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            errors.append(f"{path.name}: cannot parse YAML: {exc}")
            continue
        raw_entries = doc.get("entries") if isinstance(doc, dict) else None
        if not isinstance(raw_entries, list):
            errors.append(f"{path.name}: top level must be a mapping with an 'entries' list")
            continue
        for i, raw in enumerate(raw_entries, start=1):
            ident = raw.get("id") if isinstance(raw, dict) else None
            where = f"{path.name}: entry #{i}" + (f" ({ident})" if ident else "")
            if not isinstance(raw, dict):
                errors.append(f"{where}: must be a mapping")
                continue
            try:
                located.append((where, Entry.model_validate(raw)))
            except ValidationError as exc:
                errors.extend(_format_validation(where, exc))
    errors.extend(validate_entries(located))
    if errors:
        raise SeedError(errors)
    return [entry for _, entry in located]
