"""The `custom.meta` block through which actions tell the API gateway what happened."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher

ANSWERED = "answered"
CLARIFY = "clarify"
FALLBACK = "fallback"
HANDOFF = "handoff"
FORM = "form"


def send_meta(dispatcher: CollectingDispatcher, outcome: str, **details: Any) -> None:
    """Attach the turn's outcome (and details such as the KB entry used) for the gateway."""
    meta: dict[str, Any] = {"outcome": outcome, **details}
    dispatcher.utter_message(json_message={"meta": meta})
