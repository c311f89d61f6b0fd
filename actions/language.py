"""The conversation's reply language in the action server (issue 19).

The API gateway keeps the language per conversation (`vocab.language`) and sends it in every
message's metadata; it also sets the `language` slot, which the domain's responses are
conditioned on. Actions read the metadata first (always the current turn's), then the slot.
"""

from __future__ import annotations

from rasa_sdk import Tracker


def language_of(tracker: Tracker) -> str:
    """`en` or `zh` (the default)."""
    metadata = tracker.latest_message.get("metadata") or {}
    value = metadata.get("language") or tracker.get_slot("language")
    return "en" if value == "en" else "zh"


def pick(tracker: Tracker, zh: str, en: str) -> str:
    """The text in the conversation's language."""
    return en if language_of(tracker) == "en" else zh
