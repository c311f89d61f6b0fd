"""Mask card numbers, Chinese ID numbers and mobile numbers in free text and in log records.

What is masked, and how
-----------------------
Every detected number is replaced by one bracketed token that keeps only its last four
characters, so an agent can still say "the card ending in 7890" (the bot needs that) while the
full number never reaches logs or stored transcripts::

    payment card      6222 0212 3456 7890     ->  [卡号****7890]
    ID (GB 11643)     11010519491231002X      ->  [身份证****002X]
    mobile / phone    +86 138-1234-5678       ->  [手机号****5678]
    (regex fallback)  any run of >= 11 digits ->  [号码****5678]

The token never contains a run of more than four digits, so masking is idempotent: masking
masked text changes nothing. Country-code prefixes (+86, 86-, 0086) are swallowed into the
phone token; everything outside a masked span is returned byte for byte (full-width digits
included).

Design
------
A word segmenter cannot be trusted with digits: jieba keeps "6222021234567890123" as one token
but splits "6222 0212 3456 7890" into four, and may glue a trailing "X" or not. So the *numbers*
are found with a regular expression over the raw text, and spaCy is used only for what it is
good at here, reading the *words around* a number:

1. Fast path: text without a run of at least 7 digits (spaces/hyphens allowed between them) is
   returned unchanged; spaCy is never touched. Most log lines and chat turns stop here.
2. The text is NFKC-normalised character by character (full-width "６２２２－..." becomes
   "6222-..."; each character maps to exactly one, so offsets stay aligned with the original).
3. Candidate regions are runs of digit groups separated by single spaces or hyphens, optionally
   ending in X/x. Digits that are the decimal part or integer part of a decimal number
   ("1234567.89") are not candidates; thousands-separated amounts ("12,000,000") never have
   7 digits in a row. Regions are split into segments greedily, longest first; a multi-group
   segment must consist of groups of at least 3 digits (as card, phone and ID groupings do),
   which keeps dates such as "2026-11-23" from being glued to the number next to them.
4. Context comes from a blank ``zh`` spaCy pipeline segmenting with jieba plus a token
   ``Matcher`` whose patterns match keywords inside tokens (so it survives jieba's choice
   between "信用卡号" and "信用卡" + "号"): 卡号/信用卡/银行卡/账号 (card), 身份证/证件 (ID),
   手机/电话/联系方式 (phone) and explicit non-PII words such as 订单号/流水号/金额/积分/尾号
   (negative). Only a short window next to the number is analysed, the nearest keyword wins,
   and a keyword only counts if no digit or clause punctuation (，。；！？) separates it from
   the number. A unit right after the number (元/万/期/日...) or a currency sign before it
   counts as negative context.
5. Decision, per segment:

   * Validated numbers are masked even without context: a Luhn-valid payment card number
     (14-19 digits, or 13 starting with 4, with a banking major industry identifier 2-6 or 9,
     which keeps epoch-millisecond timestamps out), an 18-character ID whose GB 11643 check
     character and birth date are valid, and a mainland mobile number 1[3-9]XXXXXXXXX (no
     checksum exists; the pattern is the validation).
   * Context + plausible length is masked even when the checksum fails ("卡号是1234567890123"
     is a mistyped card number, and a mistyped card number is still a card number): card
     13-19 digits, ID 15-18 characters, phone 7-13 digits (landlines too; 400/800 service
     numbers are not personal and stay visible). When the words name a kind and the length
     fits, they also decide the label (身份证 + an 18-digit number that happens to pass Luhn
     is an ID).
   * Explicit non-PII context (订单号 2026112312345678) suppresses context-only and
     pattern-only (phone) masking, but NOT checksum-validated IDs or 16-19 digit Luhn-valid
     card numbers: such an order number cannot be told apart from a card number, and leaking a
     card number into logs is worse than hiding an order number.
   * Everything else stays visible: amounts, dates, times, instalment counts (12期), the last
     four digits of a card (尾号1234 -- four digits are never candidates) and unvalidated long
     numbers without PII context.

The pipeline is built lazily, once, behind ``functools.lru_cache`` (importing this module
imports neither spaCy nor jieba), and only when a candidate number actually needs context.

:class:`PiiMaskingFilter` applies :func:`mask` to every log record. It must never raise, so
any internal error falls back to :func:`_mask_regex_only`, which masks every candidate run of
at least 11 digits without spaCy (over-masking is the safe direction for logs).
"""

from __future__ import annotations

import datetime as _dt
import functools
import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.matcher import Matcher

__all__ = ["PiiMaskingFilter", "gb11643_check_char", "get_pipeline", "luhn_valid", "mask"]

CARD = "CARD"
ID = "ID"
PHONE = "PHONE"
NEG = "NEG"  # explicit non-PII context (order number, amount, last four digits...)
NUMBER = "NUMBER"  # regex fallback only: a long number of unknown kind

_TOKEN_LABELS = {CARD: "卡号", ID: "身份证", PHONE: "手机号", NUMBER: "号码"}
# An already masked token; it is skipped, and hidden from the context analysis.
_MASKED_RE = re.compile(r"\[(?:卡号|身份证|手机号|号码)\*{4}[0-9X]{4}\]")

# Fast path, on the raw text: 7+ digits (any script's decimal digits, e.g. full-width),
# optionally separated by single spaces or hyphens (ASCII or full-width).
_FAST_RE = re.compile(r"\d(?:[ \-\u3000\uff0d]?\d){6,}")
# Candidate regions, on the normalised text.
_REGION_RE = re.compile(
    r"(?<![0-9])(?<![0-9]\.)"  # not inside a number, not a decimal part
    r"[0-9]+(?:[ \-][0-9]+)*"  # digit groups separated by one space or hyphen
    r"(?:[Xx](?![A-Za-z]))?"  # ID check character
    r"(?![0-9])(?!\.[0-9])"  # not followed by a decimal part
)
# Thousands separators need no rule: "12,000,000" only yields groups shorter than 7 digits,
# while "13800005678,13900005678" must still yield two candidates.
_GROUP_RE = re.compile(r"[0-9]+")
_MIN_DIGITS = 7
_MAX_DIGITS = 19  # longest card number; also covers 0086 + 11-digit mobile (15)
_FALLBACK_MIN_DIGITS = 11

_MOBILE_RE = re.compile(r"(?:0086|86)?(1[3-9][0-9]{9})")
_SERVICE_NUMBER_RE = re.compile(r"[48]00[0-9]{7}")  # 400/800 hotlines: not personal
_CARD_MII = frozenset("234569")  # ISO/IEC 7812 major industry identifiers used by banks
_PLAUSIBLE_WITH_CONTEXT = {CARD: range(13, 20), ID: range(15, 19), PHONE: range(7, 14)}

# Context analysis.
_WINDOW = 16  # characters on each side handed to spaCy
_MAX_GAP = 8  # at most this many characters between keyword and number
_GAP_BREAK_RE = re.compile(r"[0-9,;!?。，；！？、\n\r]")
_UNIT_AFTER = frozenset("元块万亿千百%期次笔天年月日时分秒")
_CURRENCY_BEFORE = frozenset("¥$€£")
# When one token carries several labels: a non-PII word qualifies the noun ("信用卡积分",
# "账户余额", "订单号码"), so it wins.
_PRIORITY = {NEG: 3, ID: 2, PHONE: 1, CARD: 0}

_KEYWORDS: dict[str, list[list[dict[str, object]]]] = {
    CARD: [
        [{"TEXT": {"REGEX": "卡号|信用卡|银行卡|借记卡|储蓄卡|贷记卡|卡片|账号|帐号|账户|帐户"}}],
        [{"TEXT": "卡"}],
        [{"LOWER": {"REGEX": r"^(credit|debit|bank)?card|^(acct|account)"}}],
    ],
    ID: [
        [{"TEXT": {"REGEX": "身份证|证件|身份号|公民号"}}],
        [{"LOWER": {"REGEX": r"^(id|idcard|id_card|identity)$"}}],
    ],
    PHONE: [
        [{"TEXT": {"REGEX": "手机|电话|联系方式|联系人|致电|来电"}}],
        [{"LOWER": {"REGEX": r"^(tel|phone|mobile|cell)"}}],
    ],
    NEG: [
        [{"TEXT": {"REGEX": "订单|流水|单号|交易号|参考号|授权码|验证码|工单|快递|积分|"
                            "金额|额度|余额|尾号|四位|邮编|工号|商户|凭证|批次|序列号|"
                            "人民币"}}],
        [{"LOWER": {"REGEX": r"^(order|ref|txn|trace|amount|points|rmb|cny|usd)"}}],
    ],
}


class Pipeline(NamedTuple):
    """The lazily built spaCy objects."""

    nlp: Language
    matcher: Matcher


@functools.lru_cache(maxsize=1)
def get_pipeline() -> Pipeline:
    """Build (once) the blank Chinese pipeline with jieba segmentation and keyword matcher."""
    import spacy
    from spacy.matcher import Matcher

    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    matcher = Matcher(nlp.vocab)
    for label, patterns in _KEYWORDS.items():
        matcher.add(label, patterns)  # type: ignore[arg-type]
    return Pipeline(nlp, matcher)


# --------------------------------------------------------------------------- checksums


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) check used by payment card numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_GB11643_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
_GB11643_CHECK = "10X98765432"


def gb11643_check_char(body: str) -> str:
    """Check character of an 18-character Chinese ID number, from its first 17 digits."""
    total = sum((ord(ch) - 48) * w for ch, w in zip(body, _GB11643_WEIGHTS, strict=True))
    return _GB11643_CHECK[total % 11]


def _id_valid(value: str) -> bool:
    """18-character ID with a valid GB 11643 check character and a plausible birth date."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    if gb11643_check_char(value[:17]) != value[17].upper():
        return False
    try:
        born = _dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return _dt.date(1900, 1, 1) <= born <= _dt.date.today()


def _card_valid(digits: str) -> bool:
    """Luhn-valid and shaped like a payment card number (see module docstring)."""
    n = len(digits)
    if not (13 <= n <= 19) or (n == 13 and digits[0] != "4"):
        return False
    return digits[0] in _CARD_MII and luhn_valid(digits)


# --------------------------------------------------------------------------- detection


class _Segment(NamedTuple):
    start: int
    end: int
    kind: str
    tail: str  # last four characters shown in the token


def _normalise(text: str) -> str:
    """NFKC per character, keeping a 1:1 offset mapping with the original text."""
    if text.isascii():
        return text
    out = []
    for ch in text:
        n = unicodedata.normalize("NFKC", ch)
        out.append(n if len(n) == 1 else ch)
    return "".join(out)


def _classify(value: str, context: str | None) -> str | None:
    """Kind of PII for a separator-free candidate (digits, maybe a trailing X), or None."""
    if value[-1] in "Xx":
        # Only an ID number ends with X.
        if _id_valid(value) or (context == ID and len(value) == 18):
            return ID
        return None
    n = len(value)
    strong: list[str] = []
    if n == 18 and _id_valid(value):
        strong.append(ID)
    if _MOBILE_RE.fullmatch(value):
        strong.append(PHONE)
    if _card_valid(value):
        strong.append(CARD)
    if context in strong:
        return context
    if context == NEG:
        if ID in strong:
            return ID
        if CARD in strong and n >= 16:
            return CARD
        return None
    if (context in _PLAUSIBLE_WITH_CONTEXT and n in _PLAUSIBLE_WITH_CONTEXT[context]
            and not (context == PHONE and _SERVICE_NUMBER_RE.fullmatch(value))):
        return context  # the words say what it is, even if the checksum fails
    return strong[0] if strong else None


def _gap_ok(gap: str) -> bool:
    return len(gap) <= _MAX_GAP and not _GAP_BREAK_RE.search(gap)


def _best(found: list[tuple[int, int, str]]) -> str | None:
    return max(found)[2] if found else None


def _context_before(ctx_text: str, start: int) -> str | None:
    """Nearest keyword label ending shortly before ``start``."""
    window = ctx_text[max(0, start - _WINDOW) : start]
    if not window.strip():
        return None
    nlp, matcher = get_pipeline()
    doc = nlp(window)
    found = []
    for match_id, _s, e in matcher(doc):
        last = doc[e - 1]
        end_char = last.idx + len(last.text)
        if _gap_ok(window[end_char:]):
            label = nlp.vocab.strings[match_id]
            found.append((end_char, _PRIORITY[label], label))
    return _best(found)


def _context_after(ctx_text: str, end: int) -> str | None:
    """Nearest keyword label starting shortly after ``end``."""
    window = ctx_text[end : end + _WINDOW]
    if not window.strip():
        return None
    nlp, matcher = get_pipeline()
    doc = nlp(window)
    found = []
    for match_id, s, _e in matcher(doc):
        start_char = doc[s].idx
        if _gap_ok(window[:start_char]):
            label = nlp.vocab.strings[match_id]
            found.append((-start_char, _PRIORITY[label], label))
    return _best(found)


class _RegionContext:
    """Context at the two edges of a candidate region, computed at most once each."""

    def __init__(self, norm: str, ctx_text: str, start: int, end: int) -> None:
        self._norm, self._ctx_text, self._start, self._end = norm, ctx_text, start, end
        self._memo: dict[str, str | None] = {}

    def _get(self, edge: str) -> str | None:
        if edge not in self._memo:
            if edge == "before":
                before = self._norm[: self._start].rstrip(" ")
                self._memo[edge] = (NEG if before[-1:] in _CURRENCY_BEFORE
                                    else _context_before(self._ctx_text, self._start))
            else:
                after = self._norm[self._end :].lstrip(" ")
                self._memo[edge] = (NEG if after[:1] in _UNIT_AFTER
                                    else _context_after(self._ctx_text, self._end))
        return self._memo[edge]

    def for_segment(self, first: bool, last: bool) -> str | None:
        """Only a segment touching an edge of the region sees the words outside it."""
        if last and self._norm[self._end :].lstrip(" ")[:1] in _UNIT_AFTER:
            return NEG  # "...元": an amount, whatever the words before say
        ctx = self._get("before") if first else None
        if ctx is None and last:
            ctx = self._get("after")
        return ctx


def _segments(norm: str, ctx_text: str, region: re.Match[str]) -> list[_Segment]:
    """Split one candidate region into masked segments, greedily, longest first."""
    r_start, r_end = region.span()
    x_char = norm[r_end - 1] if norm[r_end - 1] in "Xx" else ""
    groups = list(_GROUP_RE.finditer(norm, r_start, r_end))
    context = _RegionContext(norm, ctx_text, r_start, r_end)
    out: list[_Segment] = []
    i = 0
    while i < len(groups):
        hit = _longest_at(norm, groups, i, x_char, context)
        if hit is None:
            i += 1
        else:
            out.append(hit[0])
            i = hit[1]
    return out


def _longest_at(norm: str, groups: Sequence[re.Match[str]], i: int, x_char: str,
                context: _RegionContext) -> tuple[_Segment, int] | None:
    """The longest maskable segment starting at group ``i``, and the group index after it."""
    n = len(groups)
    # Candidate ends j: at most _MAX_DIGITS digits, and a multi-group segment must look like
    # grouped digits (4-4-4-4, 3-4-4, 6-8-4, 86 + ...): every group after the first has at
    # least 3 digits, the first too unless it is the country code 86. This keeps dates such
    # as "2026-11-23" from being glued to a neighbouring number, and the loop linear.
    head = groups[i].group()
    limit, count = i + 1, len(head)
    if len(head) >= 3 or head == "86":
        while (limit < n and len(groups[limit].group()) >= 3
               and count + len(groups[limit].group()) <= _MAX_DIGITS):
            count += len(groups[limit].group())
            limit += 1
    for j in range(limit, i, -1):
        seg = groups[i:j]
        digits = "".join(g.group() for g in seg)
        if len(digits) < _MIN_DIGITS or len(digits) > _MAX_DIGITS:
            return None
        first, last = i == 0, j == n
        ctx = context.for_segment(first, last)
        start, end = seg[0].start(), seg[-1].end()
        kind = None
        if x_char and last:
            kind = _classify(digits + x_char, ctx)
            if kind is not None:
                digits += "X"
                end += 1
        if kind is None:
            kind = _classify(digits, ctx)
        if kind is None:
            continue
        if (kind == PHONE and first and len(digits) > 11 and start > 0
                and norm[start - 1] == "+"):
            start -= 1  # "+86 138...": the plus belongs to the phone number
        return _Segment(start, end, kind, digits[-4:]), j
    return None


def _apply(text: str, segments: Sequence[_Segment]) -> str:
    parts: list[str] = []
    pos = 0
    for seg in sorted(segments):
        parts.append(text[pos : seg.start])
        parts.append(f"[{_TOKEN_LABELS[seg.kind]}****{seg.tail.upper()}]")
        pos = seg.end
    parts.append(text[pos:])
    return "".join(parts)


def _candidate_regions(norm: str) -> list[re.Match[str]]:
    protected = [m.span() for m in _MASKED_RE.finditer(norm)]
    regions = []
    k = 0  # both lists are in text order
    for m in _REGION_RE.finditer(norm):
        if sum(len(g) for g in _GROUP_RE.findall(m.group())) < _MIN_DIGITS:
            continue
        while k < len(protected) and protected[k][1] <= m.start():
            k += 1
        if k < len(protected) and protected[k][0] < m.end():
            continue  # overlaps an existing mask token
        regions.append(m)
    return regions


def mask(text: str) -> str:
    """Return ``text`` with card, ID and phone numbers replaced by masked tokens.

    Idempotent; text without a run of 7+ digits is returned unchanged without loading spaCy.
    """
    if not text or not _FAST_RE.search(text):
        return text
    norm = _normalise(text)
    regions = _candidate_regions(norm)
    if not regions:
        return text
    # Context is read from a copy where earlier masks are neutralised (their labels must not
    # act as keywords, and their digits must still break context like the original did).
    ctx_text = _MASKED_RE.sub(lambda m: "0" * len(m.group()), norm)
    segments: list[_Segment] = []
    for region in regions:
        segments.extend(_segments(norm, ctx_text, region))
    return _apply(text, segments) if segments else text


def _mask_regex_only(text: str) -> str:
    """Fallback without spaCy: mask every candidate run of >= 11 digits."""
    if not text or not _FAST_RE.search(text):
        return text
    norm = _normalise(text)
    segments = []
    for region in _candidate_regions(norm):
        value = "".join(_GROUP_RE.findall(region.group()))
        if region.group()[-1] in "Xx":
            value += "X"
        if len(value.rstrip("X")) < _FALLBACK_MIN_DIGITS:
            continue
        kind = _classify(value, None) or NUMBER
        segments.append(_Segment(region.start(), region.end(), kind, value[-4:]))
    return _apply(text, segments) if segments else text


# --------------------------------------------------------------------------- logging

_SUPPRESSED = "[log message suppressed: PII masking failed]"
_state = threading.local()


class PiiMaskingFilter(logging.Filter):
    """Mask PII in a record's message, traceback and stack info. Never raises, never drops.

    The message is formatted with its args first (``record.getMessage()``), then masked and
    stored back as ``record.msg`` with ``record.args = ()``. A traceback is rendered here with
    the default ``Formatter.formatException`` (a formatter only renders it after filters
    ran, which would be too late to mask it) and stored, masked, in ``record.exc_text``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_state, "busy", False):
            # A record logged while this thread is already masking (jieba logs while the
            # pipeline is built): never recurse into spaCy.
            self._mask_record_safely(record, _mask_regex_only)
            return True
        _state.busy = True
        try:
            self._mask_record_safely(record, mask)
        finally:
            _state.busy = False
        return True

    @classmethod
    def _mask_record_safely(cls, record: logging.LogRecord,
                            masker: Callable[[str], str]) -> None:
        try:
            cls._mask_record(record, masker)
        except Exception:  # a logging filter must never raise
            try:
                cls._mask_record(record, _mask_regex_only)
            except Exception:
                record.msg, record.args = _SUPPRESSED, ()
                record.exc_info, record.exc_text, record.stack_info = None, None, None

    @staticmethod
    def _mask_record(record: logging.LogRecord, masker: Callable[[str], str]) -> None:
        try:
            message = record.getMessage()
        except Exception:  # bad format args: keep everything, masked
            message = f"{record.msg!s} {record.args!r}"
        record.msg = _safe(masker, message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _safe(masker, record.exc_text)
        if record.stack_info:
            record.stack_info = _safe(masker, record.stack_info)


def _safe(masker: Callable[[str], str], text: str) -> str:
    """Mask with ``masker``, falling back to the regex-only masking on any error."""
    try:
        return masker(text)
    except Exception:
        return _mask_regex_only(text)
