"""Every response of the domain exists in both languages (issue 19): an English variation
conditioned on the `language` slot and the Chinese default without a condition. The actions'
own texts are checked in tests/actions/test_english_flows.py."""

from __future__ import annotations

import re

import yaml

from bot import paths

CJK = re.compile(r"[\u3400-\u9fff]")


def responses() -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for file in sorted(paths.DOMAIN.glob("*.yml")):
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        found.update(data.get("responses") or {})
    return found


def test_every_response_has_an_english_variation_and_a_chinese_default() -> None:
    found = responses()
    assert "utter_ask_card_last4" in found and "utter_greet" in found
    for name, variations in found.items():
        english = [v for v in variations if v.get("condition") == [
            {"type": "slot", "name": "language", "value": "en"}]]
        default = [v for v in variations if not v.get("condition")]
        assert len(english) == 1, f"{name}: no English variation"
        assert len(default) == 1, f"{name}: no unconditioned (Chinese) default"
        assert not CJK.search(english[0]["text"]), f"{name}: Chinese in the English text"
        assert CJK.search(default[0]["text"]), f"{name}: the default is not Chinese"
        # Both variations tell the gateway the same outcome.
        assert (english[0].get("custom") or {}) == (default[0].get("custom") or {}), name
