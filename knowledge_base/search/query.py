"""Query understanding before retrieval: what a cardholder's message asks, without the noise.

Real cardholders do not write like the KB: they name their bank ("请问建行信用卡提额怎么弄"),
another bank ("招行的卡怎么提额"), add forum filler and courtesy ("哪位大神知道", "求解答", "急",
"谢谢"), context after the question, or ask two things at once. Each of these costs the match.
:func:`understand` turns a message into

- ``normalized``: the text to search: the deploying bank's names removed (``BANK_NAMES``), an
  other issuer named as the card's issuer removed (it is answered from our KB, with a note),
  filler and courtesy removed, context after a substantive question dropped, and only the main
  question when the message asks several;
- ``other_issuer`` / ``other_product``: the other bank named (display name), and a product that
  only that bank has (then we can only answer for our own cards);
- ``sub_questions``: the other questions of a multi-question message (offered, not answered).

Framework-free and pure (no model, no I/O); typo correction (``spelling.py``) runs after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# The demo bank of the seed (knowledge_base/seed/FACTS.md): "本行", its app "本行信用卡App".
# ``name=replacement`` keeps what the name stands for: an app name becomes "App", a card brand
# (a name ending in 卡) becomes "信用卡", a bank name disappears.
DEFAULT_BANK_NAMES = ("本行信用卡App=App", "本行App=App", "本行")

# Other issuers: every spelling -> the name shown to the cardholder. A deploying bank's own
# names (BANK_NAMES) are never treated as other issuers. 人民银行 (the credit bureau) is no issuer.
DEFAULT_OTHER_ISSUERS: Mapping[str, str] = {
    "中国工商银行": "工商银行", "工商银行": "工商银行", "工行": "工商银行", "ICBC": "工商银行",
    "中国建设银行": "建设银行", "建设银行": "建设银行", "建行": "建设银行", "CCB": "建设银行",
    "中国农业银行": "农业银行", "农业银行": "农业银行", "农行": "农业银行", "ABC": "农业银行",
    "中国银行": "中国银行", "中行": "中国银行", "BOC": "中国银行",
    "交通银行": "交通银行", "交行": "交通银行", "招商银行": "招商银行", "招行": "招商银行",
    "CMB": "招商银行", "中国邮政储蓄银行": "邮储银行", "邮政储蓄银行": "邮储银行",
    "邮储银行": "邮储银行", "邮储": "邮储银行", "浦发银行": "浦发银行", "浦发": "浦发银行",
    "中信银行": "中信银行", "光大银行": "光大银行", "民生银行": "民生银行",
    "兴业银行": "兴业银行", "广发银行": "广发银行", "广发": "广发银行", "平安银行": "平安银行",
    "华夏银行": "华夏银行", "北京银行": "北京银行", "上海银行": "上海银行",
    "花旗银行": "花旗银行", "汇丰银行": "汇丰银行",
    # card brands of other issuers
    "龙卡": "建设银行", "牡丹卡": "工商银行", "金穗卡": "农业银行", "长城卡": "中国银行",
    "太平洋卡": "交通银行",
}

# Products only another issuer has (its app, card brand or programme): for these we can only
# say that we answer for our own cards.
DEFAULT_OTHER_PRODUCTS: Mapping[str, str] = {
    "掌上生活": "招商银行", "建行生活": "建设银行", "龙支付": "建设银行",
    "工银e生活": "工商银行", "缤纷生活": "中国银行", "买单吧": "交通银行",
    "动卡空间": "中信银行", "阳光惠生活": "光大银行", "全民生活": "民生银行",
    "发现精彩": "广发银行", "好兴动": "兴业银行", "浦大喜奔": "浦发银行",
}

# Forum filler and courtesy: removed wherever they stand (longest first).
FILLER = (
    "哪位大神知道", "有没有大神知道", "有哪位大神知道", "哪位大神能告诉我", "哪位大神",
    "有没有大神", "各位大神", "大神们", "大神", "求大神", "求高手", "哪位高手知道", "求解答",
    "求解释", "求指点",
    "求指教", "求帮助", "求助", "在线等", "急急急", "急死了", "很着急", "着急", "万分感谢",
    "非常感谢", "谢谢了", "谢谢你", "谢谢您", "谢谢", "多谢", "感谢", "麻烦了", "麻烦您了",
    "请问一下", "请问下", "请问", "我想咨询一下", "我想咨询", "咨询一下", "想咨询一下", "你好",
    "您好", "亲们", "小姐姐", "各位",
)
# Filler that is a word elsewhere (紧急, 急用钱): removed only as a clause of its own.
CLAUSE_FILLER = ("急", "急急", "求", "在吗", "有人吗", "哈", "呵呵", "好吗", "亲", "客服")

_CLAUSE_END = "。！？!?；;\n"
_CLAUSE_SPLIT = re.compile(r"([，,。！？!?；;\n~～…]+|\s{2,})")
_QUESTION_CUES = re.compile(
    r"[？?]|吗|么|呢|怎|如何|什么|啥|哪|多少|几|是否|能否|能不能|可不可以|可以不|有没有|会不会|"
    r"要不要|是不是|为何|为什么|咋|求问|多久|多长|何时|怎样")
_NOT_A_CUE = re.compile(r"不怎么|没怎么|不太")  # "这张卡我都不怎么用": no question
_FINAL_PARTICLE = re.compile(r"(不|没|没有|否)$")  # "能要回来不"
# Context after a question: a statement about the cardholder's situation ("我已经搬家了").
# Only such clauses are dropped after a substantive question; other trailing clauses may carry
# what is asked ("提额会不会查征信，留下查询记录") and stay.
_CONTEXT_START = re.compile(r"^(我|本人|因为|之前|以前|已经|目前|现在|当时|上个月|这个月|昨天|"
                            r"今天|前几天|平时|一直|卡是|家里|人在)")
# Words that open another question of the same message.
_NEXT_QUESTION = re.compile(r"^(另外|还有|还想问|再问一下|再问|顺便问一下|顺便问下|顺便问|"
                            r"以及|此外|另一个问题|第二个问题|第二)[，,：:]?")
# A bank that is not the card's issuer stays as written: a payment source or target
# ("用工行的卡还款", "从招行转账", "还招行的信用卡", "工行借记卡"), or a comparison ("和招行比").
_NOT_ISSUER_BEFORE = re.compile(r"(用|从|通过|拿|绑定?|和|跟|与|同|往|向|给|到|转|还|比)$")
_NOT_ISSUER_AFTER = re.compile(
    r"^(的)?(借记卡|储蓄卡|工资卡|一类卡|二类卡|一卡通|账户|账号|存款|网银)")
_CARD_AFTER = re.compile(r"^(的)?(信用卡|xyk|卡|白金卡|金卡|普卡|副卡|附属卡|额度|积分|账单|年费)",
                         re.IGNORECASE)
MIN_MAIN_CHARS = 6  # a question this long (content characters) stands without the context after it
MIN_SUB_CHARS = 5  # a second question shorter than this is not offered separately
# A second question that opens with a modal or a question word has no subject of its own
# ("买了手机想分期，手续费怎么算？另外能提前还吗"): it asks about the first question's topic.
_ELLIPTICAL = re.compile(r"^(能|能不能|可以|可不可以|可否|会|会不会|要|要不要|需要|需不需要|还能|"
                         r"还可以|怎么|怎样|如何|是否|多久|多长时间|多少|什么时候|有没有|那)")


def _content_len(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


@dataclass(frozen=True)
class QueryConfig:
    """What the deploying bank is called, and which other issuers and products exist."""

    bank_names: tuple[str, ...] = tuple(n.partition("=")[0] for n in DEFAULT_BANK_NAMES)
    replacements: Mapping[str, str] = field(default_factory=lambda: {
        n.partition("=")[0]: n.partition("=")[2] for n in DEFAULT_BANK_NAMES if "=" in n})
    other_issuers: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_OTHER_ISSUERS))
    other_products: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_OTHER_PRODUCTS))

    @classmethod
    def from_settings(cls, bank_names: Iterable[str] | str | None = None,
                      other_issuers: Iterable[str] | str | None = None) -> QueryConfig:
        """From settings: ``bank_names`` the deploying bank's names (中国XX银行, XX银行, XX行,
        its app, English initials; comma-separated or a list, empty = the demo bank's), and
        ``other_issuers`` extra other-issuer names (``name`` or ``name=display``)."""
        raw = _split(bank_names) or list(DEFAULT_BANK_NAMES)
        names = [n.partition("=")[0].strip() for n in raw]
        replacements = {n.partition("=")[0].strip(): n.partition("=")[2].strip()
                        for n in raw if "=" in n}
        own = {n.lower() for n in names}
        issuers = dict(DEFAULT_OTHER_ISSUERS)
        for item in _split(other_issuers):
            spelling, _, display = item.partition("=")
            issuers[spelling.strip()] = (display or spelling).strip()
        # The deploying bank is no "other" issuer, under any of its names or display names.
        own_display = {d for s, d in issuers.items() if s.lower() in own}
        issuers = {s: d for s, d in issuers.items()
                   if s.lower() not in own and d not in own_display}
        products = {p: b for p, b in DEFAULT_OTHER_PRODUCTS.items()
                    if b not in own_display and p.lower() not in own}
        return cls(tuple(sorted(set(names), key=len, reverse=True)), replacements, issuers,
                   products)


def _split(value: Iterable[str] | str | None) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [i.strip() for i in items if i and i.strip()]


@dataclass(frozen=True)
class Understanding:
    """The result of :func:`understand`."""

    original: str
    normalized: str
    own_bank: bool = False
    other_issuer: str | None = None
    other_product: str | None = None
    sub_questions: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    # What to search for each sub-question: the sub-question itself, or, when it names no topic
    # of its own ("另外能提前还吗"), the main question's context (or the main question) with it.
    sub_searches: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.normalized != self.original


def _find(text: str, names: Iterable[str]) -> list[tuple[int, int, str]]:
    """Non-overlapping occurrences of ``names`` (longest first, ASCII case-insensitive;
    ASCII names only as whole words)."""
    spans: list[tuple[int, int, str]] = []
    lower = text.lower()
    for name in sorted(names, key=len, reverse=True):
        key = name.lower()
        start = 0
        while (i := lower.find(key, start)) >= 0:
            j = i + len(key)
            start = j
            if key.isascii() and ((i > 0 and lower[i - 1].isascii() and lower[i - 1].isalnum())
                                  or (j < len(lower) and lower[j].isascii()
                                      and lower[j].isalnum())):
                continue
            if any(a < j and i < b for a, b, _ in spans):
                continue
            spans.append((i, j, name))
    return sorted(spans)


def _replacement(name: str, replacements: Mapping[str, str]) -> str:
    if name in replacements:
        return replacements[name]
    return "信用卡" if name.endswith("卡") else ""


def _cut(text: str, spans: Sequence[tuple[int, int, str]],
         replacements: Mapping[str, str]) -> str:
    out, last = [], 0
    for i, j, name in spans:
        out.append(text[last:i])
        repl = _replacement(name, replacements)
        out.append(repl)
        last = j
        if repl:
            continue
        # "建行的信用卡" -> "信用卡"; "本行App里" -> "App里" is avoided by the longer name first.
        if text[last:last + 1] == "的":
            last += 1
    out.append(text[last:])
    return "".join(out)


_FILLER_LONGEST_FIRST = tuple(sorted(FILLER, key=len, reverse=True))


def _strip_filler(clause: str) -> str:
    for word in _FILLER_LONGEST_FIRST:
        clause = clause.replace(word, "")
    bare = clause.strip(" ，,。！？!?~～…：:")
    if bare in CLAUSE_FILLER or not _content_len(bare):
        return ""
    return clause


def _clauses(text: str) -> list[tuple[str, str]]:
    """(clause, the punctuation after it)."""
    parts = _CLAUSE_SPLIT.split(text)
    out: list[tuple[str, str]] = []
    for k in range(0, len(parts), 2):
        sep = parts[k + 1] if k + 1 < len(parts) else ""
        if parts[k].strip() or out:
            out.append((parts[k].strip(), sep))
    return [c for c in out if c[0]] or [(text.strip(), "")]


def _is_question(clause: str, sep: str) -> bool:
    bare = _NOT_A_CUE.sub("", clause)
    return bool(_QUESTION_CUES.search(bare) or _FINAL_PARTICLE.search(bare)) or "?" in sep \
        or "？" in sep


def _is_context(clauses: Sequence[tuple[str, str]]) -> bool:
    """The clauses open with the cardholder's situation and ask nothing."""
    return bool(clauses) and bool(_CONTEXT_START.match(clauses[0][0])) and not any(
        _is_question(c, s) for c, s in clauses)


def understand(text: str, config: QueryConfig | None = None) -> Understanding:
    """What ``text`` asks (see the module docstring). Never returns an empty ``normalized``:
    when everything would be removed, the text is searched as typed."""
    config = config or QueryConfig()
    original = text
    removed: list[str] = []
    work = text.strip()

    own = _find(work, config.bank_names)
    if own:
        removed += [n for _, _, n in own]
        work = _cut(work, own, config.replacements)

    other_issuer = other_product = None
    products = _find(work, config.other_products)
    if products:
        other_product = products[0][2]
        other_issuer = config.other_products[other_product]
    issuers = _find(work, config.other_issuers)
    if issuers:
        # Named as the card's issuer ("招行的卡怎么提额", "建行app怎么还款"): answered from our
        # KB, with a note.
        as_issuer = [s for s in issuers
                     if not _NOT_ISSUER_BEFORE.search(work[:s[0]])
                     and not _NOT_ISSUER_AFTER.match(work[s[1]:])
                     and (_CARD_AFTER.match(work[s[1]:]) or not _content_len(work[:s[0]]))]
        if as_issuer:
            other_issuer = other_issuer or config.other_issuers[as_issuer[0][2]]
            removed += [n for _, _, n in as_issuer]
            work = _cut(work, as_issuer, config.replacements)

    clauses = [(c2, sep) for c, sep in _clauses(work) if (c2 := _strip_filler(c))]
    rest = work
    for word in _FILLER_LONGEST_FIRST:
        if word in rest:
            removed.append(word)
            rest = rest.replace(word, "")
    removed += [c for c, _ in _clauses(work) if c and not _strip_filler(c)
                and not any(w in c for w in FILLER)]
    if not clauses:
        return Understanding(original, original.strip() or original, bool(own), other_issuer,
                             other_product, (), tuple(removed))

    # Questions: a question clause and the context before it. A new question starts after a
    # question that ended a sentence (？ 。), or at 另外 / 还有 / 顺便问一下 ...
    questions: list[list[tuple[str, str]]] = [[]]
    asked = [False]
    for clause, sep in clauses:
        starts_new = bool(_NEXT_QUESTION.match(clause))
        new = bool(questions[-1]) and asked[-1] and (starts_new or _ended(questions[-1][-1][1]))
        if new:
            questions.append([])
            asked.append(False)
        if starts_new and (new or not questions[-1]):
            clause = _NEXT_QUESTION.sub("", clause).strip()
            if not clause:  # "还有，…": the connector was a clause of its own
                continue
        questions[-1].append((clause, sep))
        asked[-1] = asked[-1] or _is_question(clause, sep)
    # Context after the last question joins it, unless that question is substantive alone.
    if len(questions) > 1 and not asked[-1]:
        tail = questions.pop()
        asked.pop()
        if _content_len(_join(questions[-1])) >= MIN_MAIN_CHARS and _is_context(tail):
            removed += [c for c, _ in tail]
        else:
            questions[-1] += tail
    elif len(questions) == 1:
        last_q = max((i for i, (c, s) in enumerate(questions[0]) if _is_question(c, s)),
                     default=None)
        if last_q is not None and last_q + 1 < len(questions[0]) and \
                _content_len(_join(questions[0][:last_q + 1])) >= MIN_MAIN_CHARS and \
                _is_context(questions[0][last_q + 1:]):
            removed += [c for c, _ in questions[0][last_q + 1:]]
            questions[0] = questions[0][:last_q + 1]

    texts = [_join(q) for q in questions]
    main = texts[0]
    subs = tuple(t for t in texts[1:] if _content_len(t) >= MIN_SUB_CHARS)
    if len(texts) > 1 and not subs:
        main = _join([c for q in questions for c in q])  # too short to offer apart: keep together
    if _content_len(main) < 2:
        main = original.strip()
    return Understanding(original, main, bool(own), other_issuer, other_product, subs,
                         tuple(removed), tuple(_sub_search(questions[0], sub) for sub in subs))


def _sub_search(first: Sequence[tuple[str, str]], sub: str) -> str:
    """The text to search for ``sub``: itself, or with the topic of the first question when it
    has none of its own: the first question's leading context ("买了个手机想分期"), else the
    first question."""
    if not _ELLIPTICAL.match(sub):
        return sub
    asked = next((k for k, (c, sep) in enumerate(first) if _is_question(c, sep)), None)
    topic = first[:asked] if asked else first
    return f"{_join(topic).rstrip('？?')}，{sub}"


def _ended(sep: str) -> bool:
    return any(ch in _CLAUSE_END for ch in sep)


def _join(clauses: Sequence[tuple[str, str]]) -> str:
    out = ""
    for k, (clause, sep) in enumerate(clauses):
        out += clause
        if k + 1 < len(clauses):
            out += "，" if not sep.strip() else sep.strip()[:1]
        elif sep.strip()[:1] in ("?", "？"):
            out += sep.strip()[:1]
    return out.strip()


def other_issuer_note(understanding: Understanding) -> str | None:
    """The Chinese note shown with an answer when the message named another bank."""
    if understanding.other_product:
        return (f"抱歉，“{understanding.other_product}”是{understanding.other_issuer}的产品，"
                "我只能解答本行信用卡的问题。")
    if understanding.other_issuer:
        return (f"提示：您提到了{understanding.other_issuer}，以下解答针对本行信用卡，"
                f"{understanding.other_issuer}的规定请以该行为准。")
    return None
