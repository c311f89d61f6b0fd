"""A yes/no/cancel/bare value with no flow to answer: reply to it, unless it asks a card question.

Outside a flow, "好的" or "不用了" needs only a polite reply, but a short card statement the NLU
read as an act ("不想要这张卡了", "没收到卡") is a question: the NLU marks the card words it
found (bot.components.dialogue_acts, `message_shape` in the parse data), and such a message is
answered from the KB when the KB knows it. Inside a flow the form rules handle these intents.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import retrieval

NO_CONTEXT_RESPONSES = {
    "affirm": "utter_affirm_no_context",
    "deny": "utter_deny_no_context",
    "cancel": "utter_cancel_no_context",
    "inform": "utter_inform_no_context",
}


def asks_about_a_card(tracker: Tracker) -> bool:
    """Whether the NLU found card words or a question in the latest message."""
    shape = tracker.latest_message.get("message_shape") or {}
    return bool(shape.get("card_terms") or shape.get("question"))


class ActionActWithoutContext(Action):
    """The reply to a dialogue act outside a flow (or the KB answer it was really asking for)."""

    def name(self) -> str:
        return "action_act_without_context"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if asks_about_a_card(tracker):
            answered = await retrieval.answer_if_known(dispatcher, tracker)
            if answered is not None:
                return answered
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        dispatcher.utter_message(
            response=NO_CONTEXT_RESPONSES.get(str(intent), "utter_affirm_no_context"))
        return []
