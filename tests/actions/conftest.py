"""Fixtures for the action tests: the real domain, a fresh card store, and a form driver.

The driver plays Rasa's part of a form turn (activate, validate, ask the next slot or run the
final action; reject when nothing in the message could be used) against the real actions, so
whole flows can be tested without a trained model. Trackers start from the JSON fixture in
tests/actions/fixtures/.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

import actions.card_services
import actions.forms
import actions.identity
import actions.reminders
from cards.client import SqlCardAccountClient
from tests.cards.conftest import TODAY, new_store

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
__all__ = ["TODAY"]


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    """The bot's real domain (every file of bot/domain merged), as actions receive it."""
    from rasa.shared.core.domain import Domain

    return Domain.load(str(ROOT / "bot" / "domain")).as_dict()


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlCardAccountClient]:
    """A new SQLite card store seeded on TODAY, used by every action."""
    client = new_store(f"sqlite:///{tmp_path}/cards.db")
    for module in (actions.identity, actions.forms, actions.card_services, actions.reminders):
        monkeypatch.setattr(module, "get_client", lambda: client)
    yield client


@lru_cache
def executor() -> ActionExecutor:
    """Every action of the `actions` package, registered as the action server does it."""
    ex = ActionExecutor()
    ex.register_package("actions")
    return ex


def base_tracker() -> dict[str, Any]:
    """The tracker fixture as a dict."""
    return json.loads((FIXTURES / "tracker_base.json").read_text(encoding="utf-8"))


def user_event(text: str, intent: str, entities: list[dict[str, Any]] | None,
               user_id: str | None, verified: bool = True) -> dict[str, Any]:
    """A `user` event as Rasa stores it, with the gateway's metadata (`user_verified`:
    the gateway checked the signed identity of that user id)."""
    metadata: dict[str, Any] = (
        {"user_id": user_id, "channel": "web", "user_verified": verified} if user_id
        else {"channel": "web", "user_verified": False})
    return {"event": "user", "text": text,
            "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.95},
                           "entities": entities or [], "metadata": metadata},
            "metadata": metadata}


def ents(**values: str) -> list[dict[str, Any]]:
    """Entities as the NLU pipeline reports them."""
    return [{"entity": name, "value": value, "start": 0, "end": len(value),
             "extractor": "RegexEntityExtractor"} for name, value in values.items()]


class Turn:
    """What the bot did with one user message."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.actions: list[str] = []
        self.rejected = False

    @property
    def texts(self) -> str:
        """All visible text, buttons included."""
        parts = []
        for m in self.messages:
            if m.get("text"):
                parts.append(m["text"])
            parts.extend(b["title"] for b in m.get("buttons") or [])
        return "\n".join(parts)

    @property
    def outcome(self) -> str:
        """The outcome the API gateway would report (the last meta wins)."""
        outcome = "answered"
        for m in self.messages:
            meta = (m.get("custom") or {}).get("meta")
            if meta and meta.get("outcome"):
                outcome = meta["outcome"]
        return outcome

    @property
    def buttons(self) -> list[dict[str, str]]:
        """Every button offered."""
        return [b for m in self.messages for b in m.get("buttons") or []]


class Driver:
    """Runs the real actions for a conversation the way Rasa's FormAction would."""

    def __init__(self, domain: dict[str, Any], user_id: str | None,
                 verified: bool = True) -> None:
        self.verified = verified
        self.domain = domain
        self.user_id = user_id
        self.slots: dict[str, Any] = {
            name: spec.get("initial_value") for name, spec in domain["slots"].items()
        }
        self.events: list[dict[str, Any]] = copy.deepcopy(base_tracker()["events"])
        self.active: str | None = None
        self.latest_message: dict[str, Any] = {}

    # Plumbing -------------------------------------------------------------------------------

    def tracker(self, extra: list[dict[str, Any]] | None = None) -> Tracker:
        state = base_tracker()
        state["slots"] = dict(self.slots)
        state["latest_message"] = self.latest_message
        state["events"] = copy.deepcopy(self.events) + (extra or [])
        state["active_loop"] = {"name": self.active} if self.active else {}
        for event in extra or []:
            if event.get("event") == "slot":
                state["slots"][event["name"]] = event.get("value")
        return Tracker.from_dict(state)

    def apply(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            if event.get("event") == "slot":
                self.slots[event["name"]] = event.get("value")
            elif event.get("event") == "active_loop":
                self.active = event.get("name")
            self.events.append(event)

    def run(self, action_name: str, turn: Turn, extra: list[dict[str, Any]] | None = None,
            apply: bool = True) -> list[dict[str, Any]]:
        action = executor().actions[action_name]
        dispatcher = CollectingDispatcher()
        events = asyncio.run(action(dispatcher, self.tracker(extra), self.domain))
        turn.messages.extend(dispatcher.messages)
        turn.actions.append(action_name)
        if apply:
            self.events.append({"event": "action", "name": action_name})
            self.apply(events)
        return events

    def utter(self, name: str, turn: Turn) -> None:
        # Like Rasa's response selection: the variation whose slot conditions hold, else the
        # unconditioned one (English variations are conditioned on the `language` slot).
        variations = self.domain["responses"][name]
        matching = [v for v in variations if v.get("condition") and all(
            self.slots.get(c["name"]) == c["value"] for c in v["condition"])]
        response = (matching or [v for v in variations if not v.get("condition")]
                    or variations)[0]
        turn.messages.append({"text": response.get("text"), "custom": response.get("custom")})
        turn.actions.append(name)
        self.events.append({"event": "action", "name": name})

    # Form logic (mirrors rasa.core.actions.forms.FormAction) --------------------------------

    def _next_step(self, form: str, events: list[dict[str, Any]], turn: Turn) -> None:
        requested_events = [e for e in events
                            if e.get("event") == "slot" and e["name"] == "requested_slot"]
        if requested_events:
            slot = requested_events[-1].get("value")
        else:
            required = self.domain["forms"][form].get("required_slots") or []
            slot = next((s for s in required if self.slots.get(s) is None), None)
        self.slots["requested_slot"] = slot
        if slot is None:
            self.active = None
            self.events.append({"event": "active_loop", "name": None})
            submit = actions.forms.FLOW_BY_FORM[form].submit
            self.run(submit, turn)
            return
        ask_action = f"action_ask_{slot}"
        if ask_action in self.domain["actions"]:
            self.run(ask_action, turn, apply=False)
        else:
            self.utter(f"utter_ask_{slot}", turn)

    def say(self, text: str, intent: str = "inform",
            entities: list[dict[str, Any]] | None = None) -> Turn:
        """One user message: start the flow of a self-service intent, or answer the form."""
        turn = Turn()
        event = user_event(text, intent, entities, self.user_id, self.verified)
        self.latest_message = event["parse_data"]
        self.events += [event]
        form = self.active
        if form is None:
            flow = next(f for f in actions.forms.FLOWS if f.intent == intent)
            self.run("action_start_flow", turn)
            form = flow.form
            self.active = form
            self.events.append({"event": "active_loop", "name": form})
            marker = [{"event": "slot", "name": "requested_slot", "value": None},
                      {"event": "action", "name": form}]
            events = self.run(f"validate_{form}", turn, extra=marker, apply=False)
            if not events:
                # Like FormAction.do(): validate again, with every slot event since the
                # user's message that belongs to the form as a candidate.
                required = set(self.domain["forms"][form].get("required_slots") or [])
                since_user = self.events[self.events.index(event):]
                candidates = [e for e in since_user
                              if e.get("event") == "slot" and e["name"] in required]
                events = self.run(f"validate_{form}", turn, extra=marker + candidates,
                                  apply=False)
            self.apply(events)
            self._next_step(form, events, turn)
            return turn
        requested = self.slots.get("requested_slot")
        marker = [{"event": "slot", "name": "requested_slot", "value": requested},
                  {"event": "action", "name": form}]
        events = self.run(f"validate_{form}", turn, extra=marker, apply=False)
        filled = [e for e in events if e.get("event") == "slot"
                  and e["name"] != "requested_slot"]
        if requested and not filled:
            turn.rejected = True  # Rasa's rules take over (KB answer, cancel, handoff)
            return turn
        self.apply(events)
        self._next_step(form, events, turn)
        return turn

    def resume(self) -> Turn:
        """The form coming back after a digression: no validation of the old message."""
        turn = Turn()
        assert self.active
        form = self.active
        self.events.append({"event": "action", "name": "action_answer_from_kb"})
        marker = [{"event": "slot", "name": "requested_slot",
                   "value": self.slots.get("requested_slot")},
                  {"event": "action", "name": form}]
        events = self.run(f"validate_{form}", turn, extra=marker, apply=False)
        self.apply(events)
        self._next_step(form, events, turn)
        return turn


@pytest.fixture()
def driver(domain: dict[str, Any], store: SqlCardAccountClient):
    """`driver(user_id)`: a new conversation of that channel user."""

    def make(user_id: str | None = "demo-gold-001", verified: bool = True) -> Driver:
        return Driver(domain, user_id, verified)

    return make
