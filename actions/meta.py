"""The `custom.meta` block through which actions tell the API gateway what happened."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from vocab import Outcome

# Plain strings (slot values and JSON), taken from the vocabulary the gateway reads too.
ANSWERED: str = Outcome.ANSWERED.value
CLARIFY: str = Outcome.CLARIFY.value
FALLBACK: str = Outcome.FALLBACK.value
HANDOFF: str = Outcome.HANDOFF.value
FORM: str = Outcome.FORM.value


def send_meta(dispatcher: CollectingDispatcher, outcome: str, **details: Any) -> None:
    """Attach the turn's outcome (and details such as the KB entry used) for the gateway."""
    meta: dict[str, Any] = {"outcome": str(outcome), **details}
    dispatcher.utter_message(json_message={"meta": meta})
