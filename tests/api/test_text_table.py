"""The one bilingual text lookup (vocab.language.TextTable) and the service side's tables, the
one read of a conversation's language, and how a KB answer is worded for an English reader."""

from __future__ import annotations

import logging
import re
import string

import pytest

from api.channels.wechat import texts as wechat_texts
from api.conversation import degraded
from api.core import db
from api.handoff import texts as handoff_texts
from api.insights import nps
from api.models import Conversation
from api.models.conversation import reply_language
from cards import texts as card_texts
from vocab.language import MissingText, TextTable, UnknownLanguage, offered_related

CJK = re.compile(r"[\u3400-\u9fff]")
# The English welcome tells a Chinese reader how to switch back, in Chinese: by design.
SWITCH_HINTS = {("wechat", "welcome")}
TABLES = [handoff_texts.TEXTS, wechat_texts.TEXTS, nps.TEXTS, degraded.TEXTS, card_texts.TEXTS,
          card_texts.STATUS_NAMES]


def table() -> TextTable:
    return TextTable("test", {"hello": ("您好，{name}", "Hello, {name}"), "later": ("稍后", None),
                              "particle": ("的", "")})


def test_lookup_in_each_language_with_fields() -> None:
    t = table()
    assert t.text("hello", "zh", name="小王") == "您好，小王"
    assert t.text("hello", "en", name="Wang") == "Hello, Wang"
    assert t.text("hello", None, name="小王") == "您好，小王"  # no language: Chinese
    assert t.text("particle", "en") == ""  # empty on purpose stays empty


def test_a_missing_key_language_or_field_fails_clearly() -> None:
    t = table()
    with pytest.raises(MissingText, match="test: no text 'helo'"):
        t.text("helo", "en")
    with pytest.raises(UnknownLanguage, match="'fr'"):
        t.text("hello", "fr", name="x")
    with pytest.raises(KeyError):
        t.text("hello", "en")  # the field is left out


def test_an_english_text_not_written_yet_falls_back_to_chinese_with_a_warning(caplog) -> None:
    t = table()
    with caplog.at_level(logging.WARNING, logger="vocab.language"):
        assert t.text("later", "en") == "稍后"
    assert "no English text for 'later'" in caplog.text
    assert t.missing_english() == ["later"]


def test_a_table_without_a_chinese_text_does_not_build() -> None:
    with pytest.raises(ValueError, match="no Chinese text for b"):
        TextTable("broken", {"a": ("好", "good"), "b": ("", "bad")})


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("texts", TABLES, ids=lambda t: t.name)
def test_the_shipped_tables_are_complete_and_english_is_english(texts: TextTable) -> None:
    assert texts.missing_english() == []
    for key, (zh, en) in texts.items():
        assert en, f"{texts.name}.{key}: no English"
        if (texts.name, key) not in SWITCH_HINTS:
            assert not CJK.search(en), f"{texts.name}.{key}: {en!r}"
        if texts is not card_texts.TEXTS:  # cards: English ordinals (day_en), checked there
            assert _fields(zh) == _fields(en), f"{texts.name}.{key}"


def test_merchants_and_bank_postings_of_the_data_have_english_names() -> None:
    from datetime import date

    from cards import seed

    recorded = {m for demo in seed.demo_holders(date(2026, 12, 4))
                for _, m, _ in [*demo.billed, *demo.unbilled]}
    assert recorded <= set(card_texts.MERCHANT_NAMES_EN), recorded - set(
        card_texts.MERCHANT_NAMES_EN)
    assert {"还款，谢谢", "补卡工本费"} <= set(card_texts.MERCHANT_NAMES_EN)
    assert all(not CJK.search(name) for name in card_texts.MERCHANT_NAMES_EN.values())
    assert card_texts.merchant_name("京东商城", "en") == "JD.com"
    assert card_texts.merchant_name("京东商城", "zh") == "京东商城"
    assert card_texts.merchant_name("某小店", "en") == "某小店"  # unknown: as recorded


def test_reply_language_is_read_from_the_conversation(client) -> None:
    with db.get_sessionmaker()() as session:
        session.add(Conversation(id="conv-en", channel="web", user_id="u-en", language="en"))
        session.add(Conversation(id="conv-zh", channel="web", user_id="u-zh", language="zh"))
        session.commit()
        assert reply_language(session, "conv-en") == "en"
        assert reply_language(session, "conv-zh") == "zh"
        assert reply_language(session, "no-such-conversation") == "zh"


def test_related_questions_for_an_english_reader_are_those_with_an_english_title() -> None:
    related = [{"entry_id": "a", "question": "年费能免吗"},
               {"entry_id": "b", "question": "怎么提额", "question_en": "How do I raise my limit?"}]
    assert offered_related(related, "zh") == related
    assert offered_related(related, "en") == [related[1]]
