"""Homophone typo correction of card terms in cardholder queries (拼音输入法错字).

Pinyin input makes cardholders type the right sound with the wrong character: 注消 for 注销,
额渡 for 额度, 付属卡 for 附属卡. Both encoders read characters, so such a typo can move the
query to another entry. Before a query is encoded, a run of jieba tokens that may be a typo
(single characters and entries that are rare in jieba's dictionary; never a real word, so 有什么
is never read as 为什么) is replaced by a term with the same pinyin that differs in one character
(two for terms of four characters or more).

The terms come from the card-domain jieba dictionary (``nlu_data/jieba/userdict.txt``) and from
the words of the KB's standard questions. Very common words (frequency above GENERIC_FREQ in
jieba's dictionary, such as 使用 or 出现) are not targets: they are where false corrections came
from. On the dev split of the KB's own similar questions, typo-free queries kept their ranking
(hit@3 0.977 -> 0.978); the same questions with one homophone typo in a card term went from
hit@3 0.907 to 0.966 (knowledge_base/README.md, "Typo correction").
"""

from __future__ import annotations

import logging
import re
import threading
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jieba

USERDICT = Path(__file__).resolve().parents[2] / "nlu_data" / "jieba" / "userdict.txt"
# A token at least this frequent in jieba's dictionary is a word, not a typo.
COMMON_FREQ = 20
# Standard-question words above this frequency are generic Chinese, never correction targets.
GENERIC_FREQ = 5000
# Single characters this frequent (的 在 是 下 ...) are function words, not misspellings.
FUNCTION_FREQ = 100_000
# Sentence-final particles: 30号吗 asks "the 30th?", it is not a misspelt 号码.
PARTICLES = frozenset("吗呢吧啊呀么嘛")
# pypinyin's phrase table misreads these card words (还款 as hai kuan), so the typo 环款 would
# never match; pypinyin's own API overrides them.
READING_FIXES = {"还款": [["huán"], ["kuǎn"]], "最长": [["zuì"], ["cháng"]],
                 "重置": [["chóng"], ["zhì"]]}
MAX_TERM = 6
MAX_TOKENS = 4
_HAN = re.compile(r"[\u4e00-\u9fff]+")

_LOCK = threading.Lock()


@lru_cache(maxsize=2)
def _tokenizer(userdict: str) -> jieba.Tokenizer:
    """A private jieba tokenizer with the card dictionary (the global one is left alone)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    path = Path(userdict)
    if path.is_file():
        tokenizer.load_userdict(str(path))
    return tokenizer


def tokenizer(userdict: Path = USERDICT) -> jieba.Tokenizer:
    """The shared tokenizer for ``userdict`` (jieba's dictionary loads once, ~1 s)."""
    with _LOCK:
        return _tokenizer(str(userdict))


@lru_cache(maxsize=8192)
def _reading(char: str) -> str:
    from pypinyin import Style, pinyin

    # The most common reading only: with every reading of a polyphone (价 jia/jie) unrelated
    # words matched (价算 -> 结算).
    return str(pinyin(char, style=Style.NORMAL)[0][0])


def _is_han(text: str) -> bool:
    return _HAN.fullmatch(text) is not None


def userdict_terms(userdict: Path = USERDICT) -> list[str]:
    """The words of a jieba user dictionary (first column)."""
    if not userdict.is_file():
        return []
    lines = userdict.read_text(encoding="utf-8").splitlines()
    return [line.split()[0] for line in lines if line.strip()]


class TermCorrector:
    """Replace homophone misspellings of ``terms`` in a query (see the module docstring)."""

    def __init__(self, terms: Iterable[str], tok: jieba.Tokenizer) -> None:
        from pypinyin import lazy_pinyin, load_phrases_dict

        load_phrases_dict(READING_FIXES)  # idempotent; corrects pypinyin's phrase table
        self._tok = tok
        self.terms = frozenset(t for t in terms if 2 <= len(t) <= MAX_TERM and _is_han(t))
        index: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for term in self.terms:
            # Terms take their reading in context (还款日 = 还款 + 日, so huan kuan ri).
            index[tuple(lazy_pinyin(term))].add(term)
        self._index = dict(index)

    def _freq(self, word: str) -> int:
        return int(self._tok.FREQ.get(word) or 0)

    def _may_be_typo(self, token: str) -> bool:
        # Without HMM, jieba leaves a misspelt word as single characters (蜜/码) or finds a
        # rare dictionary entry (注消); a real word in the run means it is no typo.
        if len(token) == 1:
            return self._freq(token) < FUNCTION_FREQ
        return token not in self.terms and self._freq(token) < COMMON_FREQ

    def _replacement(self, span: str) -> str | None:
        best: tuple[int, str] | None = None
        for term in self._index.get(tuple(_reading(c) for c in span), ()):
            differ = sum(a != b for a, b in zip(span, term, strict=True))
            if 0 < differ <= (1 if len(term) <= 3 else 2):
                candidate = (self._freq(term), term)
                if best is None or candidate > best:
                    best = candidate
        return best[1] if best else None

    def correct(self, text: str) -> str:
        """``text`` with misspelt terms replaced (unchanged when nothing is found)."""
        # HMM off: its new-word guesses glue a typo to its neighbours (新蜜码, 卡收).
        tokens = self._tok.lcut(text, HMM=False)
        final = {k for k, t in enumerate(tokens) if t in PARTICLES
                 and (k + 1 == len(tokens) or not _is_han(tokens[k + 1]))}
        out: list[str] = []
        i = 0
        while i < len(tokens):
            # The longest run of possible-typo tokens starting here that spells a term.
            for j in range(min(len(tokens), i + MAX_TOKENS), i, -1):
                run = tokens[i:j]
                span = "".join(run)
                if (2 <= len(span) <= MAX_TERM and _is_han(span)
                        and j - 1 not in final and all(self._may_be_typo(t) for t in run)):
                    fixed = self._replacement(span)
                    if fixed is not None:
                        out.append(fixed)
                        i = j
                        break
            else:
                out.append(tokens[i])
                i += 1
        return "".join(out)


def build_corrector(standard_questions: Iterable[str],
                    userdict: Path = USERDICT) -> TermCorrector:
    """A corrector for a KB: the card dictionary plus its standard questions' words."""
    tok = tokenizer(userdict)
    words = {w for q in standard_questions for w in tok.lcut(q)
             if len(w) >= 2 and _is_han(w) and COMMON_FREQ <= int(tok.FREQ.get(w) or 0)
             <= GENERIC_FREQ}
    return TermCorrector(set(userdict_terms(userdict)) | words, tok)
