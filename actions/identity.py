"""Who the cardholder is (channel user id) and the identity check every card flow starts with.

The API gateway passes `{"user_id", "channel"}` as metadata with every message; the Rasa sender
id is only the conversation id. Before anything sensitive is shown or changed the cardholder
proves who they are with a card's last four digits and the last six characters of their ID
number. Three wrong answers lock self-service for the rest of the conversation.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.card_store import get_client
from cards.views import ProfileView

CARD_LAST4 = "card_last4"
ID_LAST6 = "id_last6"
IDENTITY_SLOTS = [CARD_LAST4, ID_LAST6]
VERIFIED = "identity_verified"
ATTEMPTS = "identity_attempts"
LOCKED = "identity_locked"
MAX_ATTEMPTS = 3

HUMAN_BUTTON = {"title": "转人工客服", "payload": "/request_human"}
LOCKED_TEXT = ("身份核验已连续3次未通过，为保护您的账户安全，本次会话中暂停办理自助业务。"
               "如需帮助，请转人工客服，或携带身份证件前往网点办理。")
NO_PROFILE_TEXT = ("抱歉，没有查询到与您当前登录账号关联的信用卡。请在本行信用卡App或微信公众号"
                   "登录后再试，或转人工客服为您处理。")
LOGIN_HINT_TEXT = ("如需直接查询或办理您本人的卡片业务，请登录本行信用卡App，"
                   "或在微信公众号绑定信用卡后再问我。")


def user_id_of(tracker: Tracker) -> str | None:
    """The channel user id the gateway put into the latest message's metadata."""
    metadata = tracker.latest_message.get("metadata") or {}
    user_id = metadata.get("user_id")
    return str(user_id) if user_id else None


def profile_of(tracker: Tracker) -> ProfileView | None:
    """The cardholder behind this conversation, or None when unknown."""
    user_id = user_id_of(tracker)
    return get_client().profile(user_id) if user_id else None


def session_value(tracker: Tracker, slot: str) -> Any:
    """A slot's value as set during the current session, else None.

    The gateway keeps one Rasa conversation per user and channel for good and the domain
    carries slots over into a new session (after an hour without messages), so a check or
    a lock stays valid for one session only: values merely carried over do not count.
    """
    events = tracker.events
    start = max((i for i, e in enumerate(events) if e.get("event") == "session_started"),
                default=-1)
    first_user = next((i for i in range(start + 1, len(events))
                       if events[i].get("event") == "user"), None)
    if first_user is None:
        return None
    value = None
    for event in events[first_user:]:
        if event.get("event") == "slot" and event.get("name") == slot:
            value = event.get("value")
    return value


def is_verified(tracker: Tracker) -> bool:
    """Identity was checked earlier in this session of the conversation."""
    return bool(session_value(tracker, VERIFIED)) and not is_locked(tracker)


def is_locked(tracker: Tracker) -> bool:
    """Three failed checks in this session of the conversation."""
    return bool(session_value(tracker, LOCKED))


def verify(dispatcher: CollectingDispatcher, tracker: Tracker, card_last4: str,
           id_last6: str) -> dict[str, Any]:
    """Check both answers together (never saying which one was wrong); slot updates to apply.

    On success the ID digits are dropped from the tracker at once: only the outcome is kept.
    """
    user_id = user_id_of(tracker)
    if user_id and get_client().verify_identity(user_id, card_last4, id_last6):
        dispatcher.utter_message(text="身份核验通过。")
        return {CARD_LAST4: card_last4, ID_LAST6: None, VERIFIED: True, ATTEMPTS: 0}
    attempts = int(session_value(tracker, ATTEMPTS) or 0) + 1
    updates: dict[str, Any] = {CARD_LAST4: None, ID_LAST6: None, ATTEMPTS: attempts}
    if attempts >= MAX_ATTEMPTS:
        dispatcher.utter_message(text="身份信息核验未通过。")
        updates[LOCKED] = True
    else:
        left = MAX_ATTEMPTS - attempts
        dispatcher.utter_message(
            text=f"身份信息核验未通过，卡号后四位或身份证后六位不正确。请核对后重新输入，"
                 f"您还有{left}次机会。"
        )
    return updates
