"""The self-service flows in an English conversation (issue 19): questions, buttons, hints,
errors, confirmations and results in English, through the real actions and card store.

The conversation's language reaches the actions as the `language` slot (and the metadata the
gateway adds to each message); Chinese stays the default and is covered by test_card_flows.py.
"""

from __future__ import annotations

import re
import string

import pytest

import actions.texts
import cards.texts
from actions import reminders
from tests.actions.conftest import TODAY, Driver, Turn, ents
from tests.actions.test_card_flows import IDS

CJK = re.compile(r"[\u3400-\u9fff]")


def english(driver, user_id: str) -> Driver:
    d = driver(user_id)
    d.slots["language"] = "en"
    return d


def verified_en(driver, user_id: str, text: str, intent: str, entities=None) -> tuple[Driver, str]:
    """Start a flow in English and pass the identity check; the driver and the last reply."""
    d = english(driver, user_id)
    first = d.say(text, intent, entities)
    if first.messages:
        assert "last 4 digits" in first.texts, first.texts
    card, id6 = IDS[user_id]
    d.say(card, "inform")
    turn = d.say(id6, "inform")
    assert "Identity verified." in turn.texts
    return d, turn.texts


def no_chinese(text: str, data: list[str] | tuple[str, ...] = ()) -> None:
    """Nothing of ours in Chinese (`data`: names the store records in Chinese, e.g. merchants)."""
    for name in data:
        text = text.replace(name, "")
    leftover = CJK.findall(text)
    assert not leftover, f"Chinese left in an English reply: {text!r}"


def test_change_statement_day_in_english(driver, store) -> None:
    d = english(driver, "demo-gold-001")
    ask = d.say("I want to change my statement date", "change_statement_date")
    assert ask.texts.startswith("For your security I need to verify your identity first")
    d.say("8801", "inform")
    turn = d.say("520133", "inform")
    assert "Identity verified." in turn.texts
    assert "Your statement date is the 28th of each month" in turn.texts
    no_chinese(turn.texts)
    turn = d.say("30", "inform", ents(day="30号"))
    assert "from the 1st to the 28th" in turn.texts
    no_chinese(turn.texts)
    turn = d.say("15", "inform", ents(day="15号"))
    assert "Please confirm: change your statement date from the 28th to the 15th" in turn.texts
    assert [b["title"] for b in turn.buttons] == ["Confirm", "Cancel"]
    no_chinese(turn.texts)
    turn = d.say("yes", "affirm")
    assert "Done: your statement date is now the 15th of each month" in turn.texts
    no_chinese(turn.texts)
    assert store.profile("demo-gold-001").statement_day == 15


def test_declined_confirmation_in_english(driver, store) -> None:
    d, _ = verified_en(driver, "demo-gold-001", "change my statement date to the 10th",
                       "change_statement_date", ents(day="10号"))
    turn = d.say("no", "deny")
    assert turn.texts == ("OK, the statement date change is cancelled and nothing was changed. "
                          "Anything else I can do for you?")
    assert store.profile("demo-gold-001").statement_day == 28


def test_report_lost_card_in_english(driver, store) -> None:
    d, reply = verified_en(driver, "demo-gold-001", "I lost my card", "report_lost_card")
    assert "Shall we send you a replacement card" in reply and "20.00 yuan" in reply
    assert "Yes, send a new card" in reply and "No new card for now" in reply
    no_chinese(reply)
    turn = d.say("yes", "affirm")
    assert "Please confirm: report your Gold card ending 8801 lost" in turn.texts
    no_chinese(turn.texts)
    turn = d.say("yes", "affirm")
    assert "Your Gold card ending 8801 is reported lost" in turn.texts
    new = [c for c in store.profile("demo-gold-001").cards if c.status == "inactive"]
    assert len(new) == 1 and f"ending {new[0].last4}" in turn.texts
    no_chinese(turn.texts)


def test_check_bill_in_english(driver, store) -> None:
    _, reply = verified_en(driver, "demo-gold-001", "show me my bill", "check_bill")
    assert "Your statement of" in reply and "Payment due:" in reply
    assert "Recent transactions:" in reply and " yuan" in reply
    merchants = [t.merchant for t in store.recent_transactions("demo-gold-001", limit=5)]
    no_chinese(reply, merchants)


@pytest.mark.parametrize(("intent", "expected"), [
    ("repayment", "Ways to repay:"),
    ("query_statement_date", "Your statement date is the 28th of each month"),
    ("check_points", "You have 58,000 points"),
    ("check_credit_limit", "Your credit limit is"),
    ("annual_fee", "Annual fees: Classic 100 yuan"),
])
def test_lookups_in_english(driver, intent, expected) -> None:
    _, reply = verified_en(driver, "demo-gold-001", "please", intent)
    assert expected in reply
    no_chinese(reply)


def test_instalment_and_redemption_questions_in_english(driver, store) -> None:
    d, reply = verified_en(driver, "demo-gold-001", "split my bill", "installment_bill")
    assert "How much would you like to split?" in reply and "All of it (" in reply
    no_chinese(reply)
    turn = d.say("3000", "inform", ents(amount="3000元"))
    assert "Instalment amount 3,000.00 yuan" in turn.texts
    assert [b["title"] for b in turn.buttons] == ["3 months", "6 months", "12 months",
                                                  "24 months"]
    no_chinese(turn.texts)
    turn = d.say("12", "inform", ents(period="12期"))
    assert "Please confirm: split 3,000.00 yuan of your" in turn.texts
    no_chinese(turn.texts)

    d, reply = verified_en(driver, "demo-gold-001", "redeem points", "redeem_points")
    assert "You have 58,000 points" in reply and "50 yuan phone top-up (5,000 points)" in reply
    no_chinese(reply)
    turn = d.say("phone top-up", "inform", ents(points_item="话费"))
    assert "Please confirm: redeem 5,000 points for 50 yuan phone top-up" in turn.texts
    turn = d.say("yes", "affirm")
    assert "Done! 5,000 points redeemed for 50 yuan phone top-up" in turn.texts
    no_chinese(turn.texts)


def test_identity_failure_and_ineligible_in_english(driver) -> None:
    d = english(driver, "demo-gold-001")
    d.say("change my statement date", "change_statement_date")
    d.say("1111", "inform")
    turn = d.say("000000", "inform")
    assert "The identity check failed" in turn.texts and "2 attempt(s) left" in turn.texts
    no_chinese(turn.texts)
    _, reply = verified_en(driver, "demo-platinum-001", "change statement date",
                           "change_statement_date", ents(day="5号"))
    assert "can be changed once every 6 months" in reply
    no_chinese(reply)


def test_goodbye_reminder_in_english(driver, store) -> None:
    d = english(driver, "demo-gold-001")
    turn = Turn()
    Driver.run(d, "action_goodbye", turn)
    assert turn.messages[0]["text"] == "Thank you for contacting us. Goodbye!"
    reminder = reminders.pick_reminder(store.profile("demo-gold-001"), TODAY, True, "en")
    assert reminder is not None and reminder.text.startswith("A reminder:")
    no_chinese(reminder.text)


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


# Fields one language words differently on purpose: English days are ordinals ("the 15th",
# `*_en`), and the English statement-date result names no month.
ORDINAL_FIELDS = {"day": "day_en", "old": "old_en", "new": "new_en"}
ZH_ONLY_FIELDS = {"day_changed": {"month"}}
# Texts that are empty in one language by design.
EMPTY = {("rem_card_plain", "en")}


@pytest.mark.parametrize("table", [actions.texts.TEXTS, cards.texts.TEXTS])
def test_every_text_has_both_languages_with_the_same_fields(table) -> None:
    for key, (zh, en) in table.items():
        assert zh.strip() or (key, "zh") in EMPTY, f"{key}: no Chinese"
        assert en.strip() or (key, "en") in EMPTY, f"{key}: no English"
        assert not CJK.search(en), f"{key}: Chinese in the English text"
        zh_fields = {ORDINAL_FIELDS.get(f, f) for f in _fields(zh)} - ZH_ONLY_FIELDS.get(key, set())
        assert zh_fields == _fields(en), f"{key}: {zh_fields} != {_fields(en)}"


def test_changes_in_english_single_instalment_temp_limit_freeze_activate(driver, store) -> None:
    merchants = [t.merchant for t in store.profile("demo-gold-001").unbilled]
    d, reply = verified_en(driver, "demo-gold-001", "split one purchase", "installment_single")
    assert "3,299.00 yuan" in reply and "How many months" in reply
    no_chinese(reply, merchants)
    turn = d.say("24", "inform", ents(period="24期"))
    assert "Please confirm: split the purchase" in turn.texts
    turn = d.say("yes", "affirm")
    assert "Done: " in turn.texts and "24 monthly instalments" in turn.texts
    no_chinese(turn.texts, merchants)

    d, reply = verified_en(driver, "demo-gold-001", "temporary limit", "apply_temp_limit")
    assert "up to 20,000.00 yuan of temporary limit" in reply
    turn = d.say("5000", "inform", ents(amount="5000元"))
    assert "Please confirm: a temporary limit of 5,000.00 yuan for 30 days" in turn.texts
    turn = d.say("yes", "affirm")
    assert "Done: your temporary limit of 5,000.00 yuan is active" in turn.texts
    no_chinese(turn.texts)

    d, reply = verified_en(driver, "demo-gold-002", "activate my card", "activate_card")
    assert "Please confirm: activate your Gold card ending 7703" in reply
    turn = d.say("yes", "affirm")
    assert "Your Gold card ending 7703 is activated" in turn.texts
    no_chinese(turn.texts)
    d, reply = verified_en(driver, "demo-gold-002", "freeze my card", "freeze_card")
    assert "Please confirm: freeze" in reply
    no_chinese(reply)


def test_set_language_copies_the_metadata_into_the_slot(driver) -> None:
    """action_set_language (the slot's custom mapping) follows the gateway's metadata, so the
    domain's English responses apply from a conversation's first turn."""
    from tests.actions.conftest import user_event

    d = driver("demo-gold-001")
    event = user_event("I lost my card", "report_lost_card", None, "demo-gold-001")
    event["parse_data"]["metadata"]["language"] = "en"
    d.latest_message = event["parse_data"]
    d.events.append(event)
    assert Driver.run(d, "action_set_language", Turn()) == [
        {"event": "slot", "timestamp": None, "name": "language", "value": "en"}]
    assert d.slots["language"] == "en"
    assert Driver.run(d, "action_set_language", Turn()) == []  # already set: no event
    d.latest_message = {**event["parse_data"], "metadata": {"channel": "web"}}
    assert Driver.run(d, "action_set_language", Turn()) == []  # no language: left alone
