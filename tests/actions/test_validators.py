"""Form validation actions run directly on recorded trackers (tests/actions/fixtures/*.json)."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from tests.actions.conftest import FIXTURES, executor


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def validate(state: dict[str, Any], domain: dict[str, Any]) -> tuple[dict[str, Any], list]:
    dispatcher = CollectingDispatcher()
    form = state["active_loop"]["name"]
    events = asyncio.run(executor().actions[f"validate_{form}"](
        dispatcher, Tracker.from_dict(copy.deepcopy(state)), domain))
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    return slots, dispatcher.messages


def test_correction_while_confirming_replaces_the_day(domain, store) -> None:
    slots, _ = validate(load("change_day_confirming.json"), domain)
    assert slots["new_statement_day"] == 20
    assert "confirm" not in slots  # "不对" was a correction, not a "no"


def test_plain_no_while_confirming(domain, store) -> None:
    state = load("change_day_confirming.json")
    state["latest_message"].update(text="不用了", entities=[])
    slots, _ = validate(state, domain)
    assert slots == {"confirm": False}


def test_yes_while_confirming(domain, store) -> None:
    state = load("change_day_confirming.json")
    state["latest_message"].update(text="确认", intent={"name": "affirm"}, entities=[])
    slots, _ = validate(state, domain)
    assert slots == {"confirm": True}


def test_faq_while_confirming_is_not_an_answer(domain, store) -> None:
    state = load("change_day_confirming.json")
    state["latest_message"].update(text="改到20号以后还款日是哪天", intent={"name": "faq"})
    slots, messages = validate(state, domain)
    assert slots == {} and messages == []  # nothing: Rasa rejects and the FAQ rule answers


def test_invalid_day_as_correction_is_refused(domain, store) -> None:
    state = load("change_day_confirming.json")
    state["latest_message"]["entities"][0]["value"] = "29号"
    slots, messages = validate(state, domain)
    assert slots["new_statement_day"] is None
    assert "1日至28日" in messages[0]["text"]


def test_other_cardholder_cannot_ride_on_verified_slots(domain, store) -> None:
    state = load("change_day_confirming.json")
    state["latest_message"]["metadata"]["user_id"] = "nobody"
    slots, _ = validate(state, domain)
    assert slots.get("requested_slot", "unset") is None  # no account: the form ends at once
