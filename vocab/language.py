"""Which language a cardholder writes in, and the commands that switch the reply language.

No language-identification package is installed in either runtime (langdetect, lingua, fasttext
were checked), and the choice here is between two scripts, so a rule on the characters decides:

- ``zh``: Chinese characters and no real English words (Latin abbreviations that Chinese
  cardholders type - APP, POS, CVV, ATM, xyk, sfz - and digits do not count as English);
- ``en``: English words and no Chinese character;
- ``mixed``: both ("我的卡被盗刷了 help");
- ``None``: nothing to decide on (digits, punctuation, a button payload, "ok").

A conversation keeps its language: ``zh`` or ``en`` switches it, ``mixed`` and ``None`` keep
it. "English please" / "请说中文" (and the widget's toggle) switch it explicitly.
Every layer keeps its user-facing words in a `TextTable` (key -> (Chinese, English)) and reads
them with `TextTable.text(key, lang)`: one lookup with one set of rules (below).
Standard library only (shared by both runtimes).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Literal

logger = logging.getLogger(__name__)

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
DEFAULT_LANGUAGE: Language = "zh"

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
# Latin tokens Chinese cardholders use inside Chinese sentences (lower case), and words that
# are the same in both languages' chats: they never make a message English.
NEUTRAL_WORDS = frozenset({
    "app", "apps", "pos", "atm", "cvv", "cvn", "pin", "vip", "id", "sms", "ok", "okay", "ems",
    "xyk", "sfz", "qq", "wifi", "visa", "mastercard", "jcb", "amex", "unionpay", "paypal",
    "apple", "pay", "iphone", "ipad", "huawei", "ic", "etc", "pdf", "excel", "usd", "cny",
    "rmb", "hkd", "eur", "jpy", "gbp", "a", "b", "c", "x", "v", "s", "vs", "app store",
    "ai", "nfc", "wechat", "alipay", "taobao", "jd", "hk", "mo", "tw", "ps",
})
_PAYLOAD = re.compile(r"^\s*/[A-Za-z_]+")

# Explicit switches (compared after lower-casing and stripping punctuation and spaces).
_TO_EN = frozenset({
    "englishplease", "inenglishplease", "speakenglish", "canyouspeakenglish", "english",
    "doyouspeakenglish", "inenglish", "switchtoenglish", "englishpls", "说英文", "说英语",
    "请说英文", "请说英语", "英文", "英语", "英文服务", "切换英文", "切换到英文", "用英文",
    "用英语", "/language_en",
})
_TO_ZH = frozenset({
    "请说中文", "说中文", "中文", "中文服务", "讲中文", "用中文", "请用中文", "切换中文",
    "切换到中文", "chinese", "chineseplease", "inchinese", "speakchinese", "switchtochinese",
    "inchineseplease", "/language_zh",
})
_STRIP = re.compile(r"[\s\W_]+", re.UNICODE)


def english_words(text: str) -> list[str]:
    """The Latin words of `text` that are English (not abbreviations used in Chinese)."""
    return [w for w in _WORD.findall(text) if w.lower() not in NEUTRAL_WORDS]


def detect(text: str) -> str | None:
    """``zh``, ``en``, ``mixed`` or None (see the module docstring)."""
    if not text or _PAYLOAD.match(text):
        return None
    has_cjk = _CJK.search(text) is not None
    words = english_words(text)
    if has_cjk:
        return "mixed" if words else "zh"
    return "en" if words else None


def switch_command(text: str) -> Language | None:
    """The language an explicit switch asks for ("English please", "请说中文"), else None."""
    raw = (text or "").strip().lower()
    if raw in ("/language_en", "/language_zh"):
        return "en" if raw.endswith("en") else "zh"
    key = _STRIP.sub("", raw)
    if not key or len(key) > 24:
        return None
    if key in _TO_EN:
        return "en"
    if key in _TO_ZH:
        return "zh"
    return None


def next_language(current: str | None, text: str) -> Language:
    """The conversation's language after the cardholder sent `text`."""
    base: Language = "en" if current == "en" else DEFAULT_LANGUAGE
    explicit = switch_command(text)
    if explicit is not None:
        return explicit
    found = detect(text)
    if found == "en":
        return "en"
    if found == "zh":
        return "zh"
    return base


def is_english_text(text: str | None) -> bool:
    """A question written in English: English words and no Chinese character."""
    return bool(text) and detect(str(text)) == "en"


def entry_title(hit: dict, lang: str) -> str:
    """The title of a button that offers a KB entry (clarify, related, "您还问到").

    English conversations see the entry's `question_en` when the KB has one; else the first
    English line of its similar questions (when the hit carries them), else the question the
    English message matched when that one is English, else the Chinese standard question.
    Chinese conversations always see the standard question. Shared by the actions and the
    gateway's degraded mode so both word a suggestion alike.
    """
    question = str(hit.get("question") or "")
    if lang != "en":
        return question
    english = str(hit.get("question_en") or "").strip()
    if english:
        return english
    for line in hit.get("similar") or []:
        if is_english_text(line):
            return str(line).strip()
    matched = hit.get("matched_question")
    if is_english_text(matched):
        return str(matched).strip()
    return question


def as_language(value: object) -> Language:
    """A stored or sent language value as `zh` | `en` (anything but ``en`` is the default)."""
    return "en" if value == "en" else DEFAULT_LANGUAGE


class MissingText(LookupError):
    """A text the code asks for is not in the table (a typo or a deleted key: a bug)."""


class UnknownLanguage(ValueError):
    """A language other than ``zh``/``en`` was asked for (normalise with `as_language`)."""


class TextTable(dict[str, tuple[str, str | None]]):
    """A layer's user-facing texts: key -> (Chinese, English), filled with str.format.

    The rules, the same for every layer:
    - every entry has its Chinese text (checked when the table is built: a table with an empty
      Chinese text does not import);
    - `text(key, lang)`: ``lang`` None is the default (Chinese); a language other than zh/en
      raises `UnknownLanguage`; a key not in the table raises `MissingText`;
    - an English text not written yet (None) falls back to the Chinese one and logs a warning
      (a reply in the wrong language beats no reply to a cardholder); `missing_english()`
      lists such keys so a test keeps the shipped tables complete. An empty string is a text
      that is empty on purpose (a particle one language needs and the other does not).
    """

    def __init__(self, name: str, entries: Mapping[str, tuple[str, str | None]]) -> None:
        super().__init__(entries)
        self.name = name
        empty = sorted(key for key, (zh, _en) in self.items() if not zh)
        if empty:
            raise ValueError(f"{name}: no Chinese text for {', '.join(empty)}")

    def missing_english(self) -> list[str]:
        """Keys with no English text (None: they fall back to Chinese)."""
        return sorted(key for key, (_zh, en) in self.items() if en is None)

    def template(self, key: str, lang: str | None = None) -> str:
        """The unfilled text `key` in `lang` (see the class docstring for the failures)."""
        if lang is None:
            lang = DEFAULT_LANGUAGE
        if lang not in LANGUAGES:
            raise UnknownLanguage(f"{self.name}: language {lang!r} (expected zh or en)")
        try:
            zh, en = self[key]
        except KeyError:
            raise MissingText(f"{self.name}: no text {key!r}") from None
        if lang == "zh":
            return zh
        if en is None:
            logger.warning("%s: no English text for %r, replying in Chinese", self.name, key)
            return zh
        return en

    def text(self, key: str, lang: str | None = None, **fields: object) -> str:
        """The text `key` in `lang` with its fields filled (a field left out: KeyError)."""
        return self.template(key, lang).format(**fields)


# --- a KB answer in an English conversation (the actions and the gateway's degraded mode) ----
# The answer's buttons and links are titled by vocab/buttons.py; related questions in English
# are offered only where the entry has an English title.
NO_ENGLISH_NOTE = ("(This answer is not available in English yet, so here it is in Chinese. "
                   "Say \"agent\" to talk to a person.)")
# The words around a KB answer, one wording for the actions and the degraded mode (both
# tables start from these).
KB_WORDS: dict[str, tuple[str, str | None]] = {
    "btn_human": ("转人工客服", "Talk to an agent"),
    "kb_related": ("猜你想问：", "You may also want to ask:"),
    "kb_clarify": ("您是不是想问：", "Did you mean one of these?"),
    "kb_none_of_these": ("都不是", "None of these"),
}
def answer_body(hit: dict, lang: str) -> tuple[str, bool]:
    """(the answer text, whether it is English): `answer_en` for English when the entry has
    it, else the Chinese answer (after `NO_ENGLISH_NOTE` for English conversations)."""
    if lang == "en":
        english = str(hit.get("answer_en") or "").strip()
        if english:
            return english, True
        return f"{NO_ENGLISH_NOTE}\n{hit['answer']['text']}", False
    return str(hit["answer"]["text"]), False


def offered_related(related: list[dict], lang: str) -> list[dict]:
    """The related entries worth a button: all in Chinese; in English those with an English
    title (a Chinese "猜你想问" list means nothing to an English reader; clarify choices are
    kept whatever their language, as one of them is what the cardholder asked)."""
    if lang != "en":
        return list(related)
    return [r for r in related if _CJK.search(entry_title(r, lang)) is None]
