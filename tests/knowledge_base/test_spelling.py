"""Homophone typo correction of card terms (knowledge_base/search/spelling.py), with the real card
dictionary and jieba's dictionary."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base.search.spelling import TermCorrector, build_corrector, tokenizer, userdict_terms

STANDARD = ["信用卡怎么注销", "附属卡怎么申请", "我的额度是多少", "密码忘了怎么办",
            "境外消费多久入账", "如何使用信用卡", "逾期会上征信吗", "账单在哪看",
            "预留号码怎么改", "App在哪下载"]


@pytest.fixture(scope="module")
def corrector() -> TermCorrector:
    return build_corrector(STANDARD)


@pytest.mark.parametrize(("typed", "meant"), [
    ("注消的话积分是不是就清零了", "注销的话积分是不是就清零了"),   # rare dictionary entry
    ("付属卡收年费吗", "附属卡收年费吗"),                           # term of the card dictionary
    ("临时额渡能用几天", "临时额度能用几天"),                       # inside a longer term
    ("想换个新蜜码在哪改", "想换个新密码在哪改"),                   # standard-question word
    ("忘记交易密吗怎么重置", "忘记交易密码怎么重置"),               # 吗 inside, not final
    ("竟外刷的消费一般几天能入帐", "境外刷的消费一般几天能入账"),   # two in one query
    ("逾其了会不会影响征信", "逾期了会不会影响征信"),
    ("环款日是哪天", "还款日是哪天"),                               # pypinyin reads 还款 hai kuan
])
def test_misspelt_card_terms_are_corrected(corrector: TermCorrector, typed: str,
                                           meant: str) -> None:
    assert corrector.correct(typed) == meant


@pytest.mark.parametrize("text", [
    "附近有什么好吃的火锅店",   # 有什么 is not 为什么: a run never holds a real word
    "账单日能选30号吗",         # a final particle: not a misspelt 号码
    "想问下在哪里申请",         # 在 is a function word: 下在 is not 下载
    "出险了怎么报案",           # 出险 is a word; 出现 would not be a target anyway
    "APP里怎么还款",            # mixed Chinese and English
    "今天天气怎么样",
    "",
])
def test_real_words_and_other_text_are_left_alone(corrector: TermCorrector, text: str) -> None:
    assert corrector.correct(text) == text


def test_generic_words_are_not_targets(corrector: TermCorrector) -> None:
    # 使用 is in a standard question but far too common to be a correction target.
    assert "使用" not in corrector.terms
    assert corrector.correct("刷卡时用的密码") == "刷卡时用的密码"
    assert {"注销", "逾期", "账单", "号码", "下载"} <= corrector.terms


def test_terms_come_from_the_card_dictionary_and_the_kb() -> None:
    card_terms = set(userdict_terms())
    assert {"附属卡", "溢缴款", "注销"} <= card_terms
    # Chinese terms only (ApplePay, CVV2 have no pinyin to confuse).
    assert build_corrector([]).terms == {t for t in card_terms
                                         if all("\u4e00" <= c <= "\u9fff" for c in t)}
    # A KB word outside the card dictionary becomes a target only through the KB.
    assert "额度" not in build_corrector([]).terms
    assert build_corrector(["额度多少"]).correct("额渡多少") == "额度多少"


def test_a_missing_card_dictionary_leaves_the_kb_words(tmp_path: Path) -> None:
    corrector = build_corrector(["怎么修改密码"], userdict=tmp_path / "none.txt")
    assert "附属卡" not in corrector.terms
    assert corrector.correct("怎么修改蜜码") == "怎么修改密码"


def test_the_tokenizer_is_private_and_shared() -> None:
    import jieba

    assert tokenizer() is tokenizer()
    assert tokenizer() is not jieba.dt
