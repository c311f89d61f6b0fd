"""The optional English title of a KB entry (`question_en`, issue 19) in the entry model, the
store and the seed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from knowledge_base.content.entries import Entry, load_seed
from knowledge_base.content.importexport import COLUMNS, entry_row
from knowledge_base.content.store import KBEntryVersion

ROOT = Path(__file__).resolve().parents[2]
# The categories the brief and the done-when name: every entry has English there.
MAIN_CATEGORIES = ("挂失/冻结/补卡/换卡", "额度", "年费与减免", "还款方式/还款日/最低还款", "积分",
                   "分期", "账单与账单日", "激活", "取现", "境外用卡与购汇", "盗刷与争议交易")


def entry(**over) -> Entry:
    data = {"id": "t-001", "category": "测试", "question": "测试问题怎么办",
            "similar": ["测试一", "测试二", "测试三", "测试四"], "answer": {"text": "答案"}}
    data.update(over)
    return Entry.model_validate(data)


def test_blank_is_none_long_is_rejected_and_absent_keeps_the_fingerprint() -> None:
    assert entry(question_en="   ").question_en is None
    assert entry(question_en="  What now?  ").question_en == "What now?"
    with pytest.raises(ValidationError):
        entry(question_en="x" * 201)
    # Entries written before the field existed keep their fingerprint (no needless rebuilds).
    assert entry().fingerprint() == entry(question_en=None).fingerprint()
    assert entry().fingerprint() != entry(question_en="What now?").fingerprint()


def test_store_row_and_spreadsheet_row_keep_it() -> None:
    e = entry(question_en="What now?", answer_en="Do this.")
    assert KBEntryVersion.from_entry(e, 1).to_entry() == e
    keys = [k for k, _ in COLUMNS]
    assert entry_row(e)[keys.index("question_en")] == "What now?"
    assert entry_row(entry())[keys.index("question_en")] == ""


@pytest.fixture(scope="module")
def seed() -> list[Entry]:
    return load_seed(ROOT / "knowledge_base" / "seed")


def test_main_categories_are_fully_bilingual(seed) -> None:
    main = [e for e in seed if e.category in MAIN_CATEGORIES]
    assert {e.category for e in main} == set(MAIN_CATEGORIES)
    missing = [e.id for e in main if not (e.answer_en and e.question_en)]
    assert missing == []


def test_seed_english_titles_are_english(seed) -> None:
    titled = [e for e in seed if e.question_en]
    assert len(titled) >= 200
    for e in titled:
        assert e.question_en.isascii() and len(e.question_en.split()) >= 3, e.id
    titles = [e.question_en.lower() for e in titled]
    assert len(set(titles)) == len(titles)  # a clarify button must tell entries apart
