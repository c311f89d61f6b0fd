"""The conversation's reply language in the action server (issue 19).

The API gateway keeps the language per conversation (`vocab.language`) and sends it in every
message's metadata; it also sets the `language` slot, which the domain's responses are
conditioned on. Actions read the metadata first (always the current turn's), then the slot.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher


def language_of(tracker: Tracker) -> str:
    """`en` or `zh` (the default)."""
    metadata = tracker.latest_message.get("metadata") or {}
    value = metadata.get("language") or tracker.get_slot("language")
    return "en" if value == "en" else "zh"


def pick(tracker: Tracker, zh: str, en: str) -> str:
    """The text in the conversation's language."""
    return en if language_of(tracker) == "en" else zh


class ActionSetLanguage(Action):
    """Custom slot mapping of `language`: the current message's metadata into the slot.

    Run by Rasa's action_extract_slots on every user message, before the policies predict
    and before any response is chosen, so the domain's English variations apply from the
    conversation's very first turn. Nothing is set when the metadata has no language (a
    tracker-only test, a message from another client) or the slot already holds it.
    """

    def name(self) -> str:
        return "action_set_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        metadata = tracker.latest_message.get("metadata") or {}
        value = metadata.get("language")
        if value not in ("zh", "en") or tracker.get_slot("language") == value:
            return []
        return [SlotSet("language", value)]
