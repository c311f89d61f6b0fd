"""The caring goodbye: one reminder, chosen by priority, without secrets before identity."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import reminders
from tests.actions.conftest import TODAY, Driver, executor


@pytest.mark.parametrize(
    ("user_id", "kind"),
    [
        ("demo-gold-001", "payment_due"),
        ("demo-standard-002", "points_expiring"),
        ("demo-platinum-001", "temp_limit_ending"),
        ("demo-standard-001", "annual_fee_due"),
        ("demo-gold-002", "card_not_activated"),
    ],
)
def test_each_demo_cardholder_triggers_one_reminder(store, user_id: str, kind: str) -> None:
    reminder = reminders.pick_reminder(store.profile(user_id), TODAY, verified=True)
    assert reminder is not None and reminder.kind == kind


def test_priority_order(store) -> None:
    gold = store.profile("demo-gold-001")
    points = store.profile("demo-standard-002")
    # Give the gold cardholder every other reason too: the due payment still wins.
    busy = replace(gold, points_lots=points.points_lots,
                   temp_limit_fen=100_000, temp_limit_end=TODAY + timedelta(days=2),
                   cards=gold.cards + store.profile("demo-gold-002").cards[1:])
    assert reminders.pick_reminder(busy, TODAY, True).kind == "payment_due"
    paid_stmt = replace(gold.latest_statement, paid_fen=gold.latest_statement.total_fen)
    busy = replace(busy, latest_statement=paid_stmt)
    assert reminders.pick_reminder(busy, TODAY, True).kind == "points_expiring"
    busy = replace(busy, points_lots=gold.points_lots)
    assert reminders.pick_reminder(busy, TODAY, True).kind == "temp_limit_ending"
    busy = replace(busy, temp_limit_fen=0, temp_limit_end=None)
    assert reminders.pick_reminder(busy, TODAY, True).kind == "card_not_activated"
    busy = replace(busy, cards=gold.cards)
    assert reminders.pick_reminder(busy, TODAY, True) is None


def test_payment_due_later_is_not_urgent(store) -> None:
    gold = store.profile("demo-gold-001")
    assert reminders.payment_due(gold, TODAY - timedelta(days=5), True) is None
    assert reminders.payment_due(gold, TODAY, True) is not None


def test_waived_annual_fee_needs_no_reminder(store) -> None:
    standard = store.profile("demo-standard-001")
    card = replace(standard.cards[0], swipes_this_year=5)
    assert reminders.annual_fee_due(replace(standard, cards=(card,)), TODAY, True) is None


def test_unverified_reminder_hides_amounts_and_card_digits(store) -> None:
    text = reminders.pick_reminder(store.profile("demo-gold-001"), TODAY, verified=False).text
    assert "元" not in text and "11月22日" in text
    text = reminders.pick_reminder(store.profile("demo-gold-002"), TODAY, verified=False).text
    assert "7703" not in text
    verified = reminders.pick_reminder(store.profile("demo-gold-002"), TODAY, verified=True)
    assert "7703" in verified.text


def run_goodbye(domain, user_id: str | None, slots: dict | None = None) -> CollectingDispatcher:
    d = Driver(domain, user_id)
    d.latest_message = {"text": "再见", "intent": {"name": "goodbye"}, "entities": [],
                        "metadata": {"user_id": user_id, "user_verified": True} if user_id else {}}
    d.events.append({"event": "user", "text": "再见", "parse_data": d.latest_message})
    d.apply([{"event": "slot", "name": k, "value": v} for k, v in (slots or {}).items()])
    dispatcher = CollectingDispatcher()
    asyncio.run(executor().actions["action_goodbye"](dispatcher, d.tracker(), domain))
    return dispatcher


def test_goodbye_action_says_bye_and_one_reminder(domain, store) -> None:
    dispatcher = run_goodbye(domain, "demo-gold-001", {"identity_verified": True})
    texts = [m["text"] for m in dispatcher.messages if m.get("text")]
    assert texts[0] == reminders.GOODBYE
    assert len(texts) == 2 and "12,680.00" in texts[1]
    meta = dispatcher.messages[-1]["custom"]["meta"]
    assert meta == {"outcome": "answered", "reminder": "payment_due", "end": "goodbye"}


def test_goodbye_for_unknown_or_locked_user_is_plain(domain, store) -> None:
    for user_id, slots in (("someone-else", {}), (None, {}),
                           ("demo-gold-001", {"identity_locked": True})):
        dispatcher = run_goodbye(domain, user_id, slots)
        texts = [m["text"] for m in dispatcher.messages if m.get("text")]
        assert texts == [reminders.GOODBYE]
