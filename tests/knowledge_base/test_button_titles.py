"""English titles of answer buttons and links (`title_en`, issue 19): the model, the rule that
picks the English a cardholder sees (vocab/buttons.py), the seed's coverage, and the
spreadsheet round trip (columns 按钮英文 / 链接英文)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from knowledge_base.content.entries import Button, Entry, Link, load_seed
from knowledge_base.content.importexport import (
    COLUMNS,
    entry_row,
    export_csv,
    read_table,
    validate_import,
)
from knowledge_base.content.store import KBEntryVersion
from vocab.buttons import INTENT_TITLES_EN, button_for, intent_of, link_for, resolved_title_en

ROOT = Path(__file__).resolve().parents[2]
FAQ = '/faq{"kb_entry_id":"%s"}'


def entry(**answer_over) -> Entry:
    answer = {"text": "答案", "buttons": [{"title": "立即挂失", "payload": "/report_lost_card"},
                                         {"title": "补卡多久", "payload": FAQ % "t-001"}],
              "links": [{"title": "失卡保障", "url": "https://example.com/lost"}]}
    answer.update(answer_over)
    return Entry.model_validate({"id": "t-001", "category": "测试", "question": "测试问题怎么办",
                                 "similar": ["测试一", "测试二", "测试三", "测试四"],
                                 "answer": answer})


# ---------------------------------------------------------------------------- model


def test_title_en_is_optional_stripped_and_as_long_as_title() -> None:
    assert Button(title="立即挂失", payload="/report_lost_card").title_en is None
    assert Button(title="立即挂失", payload="/x", title_en="   ").title_en is None
    assert Button(title="立即挂失", payload="/x", title_en=" Report it ").title_en == "Report it"
    Button(title="立即挂失", payload="/x", title_en="x" * 40)
    with pytest.raises(ValidationError):
        Button(title="立即挂失", payload="/x", title_en="x" * 41)  # like `title` (40)
    with pytest.raises(ValidationError):
        Button(title="立即挂失", payload="/x", title_en=3)  # type: ignore[arg-type]
    assert Link(title="说明", url="https://example.com", title_en=" Guide ").title_en == "Guide"
    assert Link(title="说明", url="https://example.com", title_en="").title_en is None


def test_absent_english_leaves_dumps_and_fingerprints_as_before() -> None:
    plain = entry()
    dumped = plain.answer.model_dump(mode="json")
    assert "title_en" not in json.dumps(dumped)
    assert dumped["buttons"][0] == {"title": "立即挂失", "payload": "/report_lost_card"}
    titled = entry(links=[{"title": "失卡保障", "url": "https://example.com/lost",
                           "title_en": "Lost card cover"}])
    assert titled.answer.model_dump()["links"][0]["title_en"] == "Lost card cover"
    assert plain.fingerprint() != titled.fingerprint()
    # The store keeps the answer as JSON: the English survives a round trip.
    assert KBEntryVersion.from_entry(titled, 1).to_entry() == titled
    assert KBEntryVersion.from_entry(plain, 1).to_entry() == plain


# ---------------------------------------------------------------------------- precedence


def test_own_title_then_target_question_en_then_intent_label_then_chinese() -> None:
    titles = {"t-002": "How long does a new card take?", "t-003": None}
    lookup = titles.get
    own = {"title": "补卡多久", "payload": FAQ % "t-002", "title_en": "New card: how long?"}
    assert resolved_title_en(own, lookup) == "New card: how long?"
    assert resolved_title_en({**own, "title_en": None}, lookup) == \
        "How long does a new card take?"
    # A /faq button never borrows an intent label; a target without English leaves Chinese.
    assert resolved_title_en({"title": "x", "payload": FAQ % "t-003"}, lookup) is None
    assert resolved_title_en({"title": "x", "payload": FAQ % "t-404"}, lookup) is None
    assert resolved_title_en({"title": "立即挂失", "payload": "/report_lost_card"}, lookup) == \
        "Report card lost"
    assert resolved_title_en({"title": "x", "payload": "/no_such_intent"}, lookup) is None
    assert resolved_title_en({"title": "立即挂失", "payload": "/report_lost_card",
                              "title_en": "Block my card"}) == "Block my card"


def test_served_answer_and_rendered_buttons_keep_payloads() -> None:
    served = entry().answer.served({"t-001": "How long does a new card take?"}.get)
    assert served["buttons"] == [
        {"title": "立即挂失", "payload": "/report_lost_card", "title_en": "Report card lost"},
        {"title": "补卡多久", "payload": FAQ % "t-001",
         "title_en": "How long does a new card take?"}]
    unresolved = entry().answer.served(lambda _id: None)["buttons"][1]
    assert "title_en" not in unresolved
    assert [button_for(b, "en") for b in served["buttons"]] == [
        {"title": "Report card lost", "payload": "/report_lost_card"},
        {"title": "How long does a new card take?", "payload": FAQ % "t-001"}]
    assert [button_for(b, "zh")["title"] for b in served["buttons"]] == ["立即挂失", "补卡多久"]
    assert button_for(unresolved, "en") == {"title": "补卡多久", "payload": FAQ % "t-001"}
    link = {"title": "失卡保障", "url": "https://example.com/lost", "title_en": "Cover"}
    assert link_for(link, "en") == {"title": "Cover", "url": "https://example.com/lost"}
    assert link_for(link, "zh")["title"] == "失卡保障"
    assert link_for({**link, "title_en": None}, "en")["title"] == "失卡保障"


# ---------------------------------------------------------------------------- seed coverage


@pytest.fixture(scope="module")
def seed() -> list[Entry]:
    return load_seed(ROOT / "knowledge_base" / "seed")


def test_every_intent_a_seed_button_triggers_has_an_english_label(seed) -> None:
    intents = {intent_of(b.payload) for e in seed for b in e.answer.buttons} - {None}
    assert len(intents) >= 15
    assert intents - set(INTENT_TITLES_EN) == set()


def test_no_button_of_an_english_entry_is_left_in_chinese(seed) -> None:
    """Count the buttons that would fall back to the Chinese title: none among the entries
    that have an English answer."""
    question_en = {e.id: e.question_en for e in seed}
    english = [e for e in seed if e.answer_en]
    buttons = [(e.id, b) for e in english for b in e.answer.buttons]
    assert len(english) >= 80 and len(buttons) >= 300
    chinese_only = [(eid, b.title) for eid, b in buttons
                    if resolved_title_en(b.model_dump(), question_en.get) is None]
    assert chinese_only == []
    # What the KB serves carries them, in English (no Chinese character slipped in).
    served = [b for e in english for b in e.answer.served(question_en.get)["buttons"]]
    assert len(served) == len(buttons)
    assert [b["title_en"] for b in served if not b["title_en"].isascii()] == []


def test_every_seed_link_has_an_english_title(seed) -> None:
    links = [lk for e in seed for lk in e.answer.links]
    assert len(links) >= 36
    assert [lk.title for lk in links if not lk.title_en] == []
    assert all(lk.title_en and lk.title_en.isascii() for lk in links)


# ---------------------------------------------------------------------------- import/export


def _table(entries: list[Entry]) -> list[list[str]]:
    return read_table(export_csv(entries), "kb.csv")


def _drop(rows: list[list[str]], *labels: str) -> list[list[str]]:
    keep = [i for i, name in enumerate(rows[0]) if name not in labels]
    return [[r[i] for i in keep] for r in rows]


def _titled() -> Entry:
    return entry(buttons=[{"title": "立即挂失", "payload": "/report_lost_card",
                           "title_en": "Block the card"},
                          {"title": "补卡多久", "payload": FAQ % "t-001"}],
                 links=[{"title": "失卡保障", "url": "https://example.com/lost",
                         "title_en": "Lost card cover"}])


def test_export_import_round_trip_keeps_the_english_titles() -> None:
    e = _titled()
    keys = [k for k, _ in COLUMNS]
    row = entry_row(e)
    assert row[keys.index("buttons_en")] == "Block the card|/report_lost_card"
    assert row[keys.index("links_en")] == "Lost card cover|https://example.com/lost"
    report = validate_import(_table([e]), {}, 1, 100)
    assert report.ok, report.as_dict()
    assert report.entries == [e]


def test_a_file_without_the_english_columns_keeps_the_existing_titles() -> None:
    e = _titled()
    rows = _drop(_table([entry()]), "按钮英文", "链接英文")  # an old file: no English columns
    assert "按钮英文" not in rows[0]
    report = validate_import(rows, {e.id: e}, 1, 100)
    assert report.ok, report.as_dict()
    assert report.entries[0].answer == e.answer
    # A new entry from an old file simply has none.
    assert validate_import(rows, {}, 1, 100).entries[0].answer == entry().answer


def test_present_but_empty_english_cells_clear_and_bad_lines_are_reported() -> None:
    e = _titled()
    cleared = validate_import(_table([entry()]), {e.id: e}, 1, 100)
    assert cleared.ok and cleared.entries[0].answer == entry().answer
    rows = _table([e])
    col = rows[0].index("按钮英文")
    rows[1][col] = "Block the card|/freeze_card\nno separator"
    report = validate_import(rows, {}, 1, 100)
    assert not report.ok
    problems = [(err.field, err.message) for err in report.errors]
    assert [f for f, _ in problems] == ["buttons_en", "buttons_en"]
    assert any("/freeze_card" in m for _, m in problems)
    too_long = _table([e])
    too_long[1][col] = ("x" * 41) + "|/report_lost_card"
    report = validate_import(too_long, {}, 1, 100)
    assert [err.field for err in report.errors] == ["buttons"]

