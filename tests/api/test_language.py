"""The language rule of vocab/language.py (issue 19): per message and per conversation."""

from __future__ import annotations

import pytest

from vocab.language import detect, next_language, switch_command


@pytest.mark.parametrize(("text", "expected"), [
    ("I lost my credit card, what should I do?", "en"),
    ("What is the annual fee?", "en"),
    ("crdit limt incrase", "en"),
    ("hi", "en"),
    ("human please", "en"),
    ("我的卡被盗刷了 help", "mixed"),
    ("积分 redeem for gifts where", "mixed"),
    ("信用卡丢了怎么办", "zh"),
    ("APP里怎么还款", "zh"),
    ("在吗 xyk丢了咋办！！", "zh"),
    ("POS机提示余额不足", "zh"),
    ("绑定Apple Pay", "zh"),
    ("15号", "zh"),
    ("3000", None),
    ("ok", None),
    ("/faq{\"kb_entry_id\":\"lost-001\"}", None),
    ("???", None),
])
def test_detect(text: str, expected: str | None) -> None:
    assert detect(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("English please", "en"), ("english, please!", "en"), ("Can you speak English?", "en"),
    ("请说中文", "zh"), ("说中文。", "zh"), ("Chinese please", "zh"), ("/language_en", "en"),
    ("/language_zh", "zh"), ("英文", "en"),
    ("I want to pay my bill in English pounds", None), ("中文怎么说账单", None), ("", None),
])
def test_switch_command(text: str, expected: str | None) -> None:
    assert switch_command(text) == expected


def test_conversation_keeps_its_language_on_mixed_and_neutral_messages() -> None:
    lang = next_language(None, "how do I raise my limit")
    assert lang == "en"
    assert next_language(lang, "3000") == "en"  # a bare value keeps English
    assert next_language(lang, "我的卡被盗刷了 help") == "en"  # mixed keeps it
    assert next_language(lang, "请说中文") == "zh"
    assert next_language("zh", "我的卡被盗刷了 help") == "zh"
    assert next_language("zh", "ok") == "zh"
    assert next_language("en", "信用卡丢了怎么办") == "zh"  # plain Chinese switches back
    assert next_language("zh", "English please") == "en"
