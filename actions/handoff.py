"""Hand the conversation to a human: the action decides, the API gateway queues it."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import declined, retrieval
from actions.language import pick
from actions.meta import CLARIFY, HANDOFF, send_meta

# Intent that triggered the handoff -> (reason, skill group). Fraud and disputes jump the queue.
REASONS: dict[str, tuple[str, str]] = {
    "request_human": ("requested", "general"),
    "complain": ("complaint", "general"),
    "fraud_dispute": ("fraud_dispute", "disputes"),
    "none_of_these": ("clarify_rejected", "general"),
}
# A declined payment that reached fraud_dispute and that the KB cannot answer: a person in the
# general queue, without the fraud priority.
DECLINED = ("declined_payment", "general")


def follows_a_clarify(tracker: Tracker) -> bool:
    """Whether the bot's reply to the previous message offered suggestions (a KB clarify turn,
    from the KB action or from a self-service request answered from the KB)."""
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return False
            seen_user = True
        elif seen_user and kind == "slot" and event.get("name") == "kb_last_outcome":
            return bool(event.get("value") == CLARIFY)
    return False


class ActionHandoff(Action):
    """Tell the cardholder we are connecting a person and ask the gateway to queue them."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        if intent == "none_of_these" and not follows_a_clarify(tracker):
            # "都不是" only rejects suggestions; with none on screen the message is read as a
            # question (NLU takes 不想要/不是 phrasing for it) and answered if the KB can.
            answered = await retrieval.answer_if_known(dispatcher, tracker)
            if answered is not None:
                return answered
        text = tracker.latest_message.get("text") or ""
        if intent == "fraud_dispute" and declined.is_declined_payment(text):
            # A payment that did not go through is not fraud: answer why and what to do.
            answered = await retrieval.answer_if_known(dispatcher, tracker,
                                                       reason=DECLINED[0])
            if answered is not None:
                return answered
            reason, group = DECLINED
        else:
            reason, group = REASONS.get(intent, ("fallback", "general"))
        if reason == "fraud_dispute":
            dispatcher.utter_message(text=pick(
                tracker,
                "涉及盗刷或争议交易，为保障资金安全，正在为您优先转接人工客服。"
                "如卡片仍在他人手中，请先在App“卡片管理”中临时锁卡。",
                "For a fraudulent or disputed transaction we are connecting you to an agent "
                "with priority. If your card may still be in someone else's hands, lock it "
                "first in the app (Card management > Temporary lock)."))
        else:
            dispatcher.utter_message(text=pick(tracker, "好的，正在为您转接人工客服，请稍候……",
                                               "OK, connecting you to an agent, one moment..."))
        send_meta(dispatcher, HANDOFF, handoff={"reason": reason, "group": group,
                                                "priority": reason == "fraud_dispute"})
        return [SlotSet("kb_fallbacks", 0)]
