"""Hand the conversation to a human: the action decides, the API gateway queues it."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.meta import HANDOFF, send_meta

# Intent that triggered the handoff -> (reason, skill group). Fraud and disputes jump the queue.
REASONS: dict[str, tuple[str, str]] = {
    "request_human": ("requested", "general"),
    "complain": ("complaint", "general"),
    "fraud_dispute": ("fraud_dispute", "disputes"),
    "none_of_these": ("clarify_rejected", "general"),
}


class ActionHandoff(Action):
    """Tell the cardholder we are connecting a person and ask the gateway to queue them."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        reason, group = REASONS.get(intent, ("fallback", "general"))
        if reason == "fraud_dispute":
            dispatcher.utter_message(
                text="涉及盗刷或争议交易，为保障资金安全，正在为您优先转接人工客服。"
                "如卡片仍在他人手中，请先在App“卡片管理”中临时锁卡。"
            )
        else:
            dispatcher.utter_message(text="好的，正在为您转接人工客服，请稍候……")
        send_meta(dispatcher, HANDOFF, handoff={"reason": reason, "group": group,
                                                "priority": reason == "fraud_dispute"})
        return [SlotSet("kb_fallbacks", 0)]
