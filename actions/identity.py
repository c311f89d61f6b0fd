"""Who the cardholder is (channel user id) and the identity check every card flow starts with.

The API gateway passes `{"user_id", "channel"}` as metadata with every message; the Rasa sender
id is only the conversation id. Before anything sensitive is shown or changed the cardholder
proves who they are with a card's last four digits and the last six characters of their ID
number. Three wrong answers lock self-service for the rest of the conversation.

Trust (issue 16): a card account is looked up only when the gateway vouches for the channel
user (`user_verified: true` in the metadata, set by the gateway after checking the web
identity signature or WeChat's signed openid; a client's own metadata can never set it). A
passed check expires after IDENTITY_IDLE_SECONDS without a message, and an account *change*
(挂失, 冻结, 账单日修改, 额度) asks again when the check is older than
IDENTITY_CHANGE_WINDOW_SECONDS.
"""

from __future__ import annotations

import time
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.card_store import get_client
from actions.settings import get_settings
from actions.texts import TEXTS, say
from cards.views import ProfileView

CARD_LAST4 = "card_last4"
ID_LAST6 = "id_last6"
IDENTITY_SLOTS = [CARD_LAST4, ID_LAST6]
VERIFIED = "identity_verified"
ATTEMPTS = "identity_attempts"
LOCKED = "identity_locked"
MAX_ATTEMPTS = 3

# Chinese forms kept for callers that have no tracker; the texts are in actions/texts.py.
HUMAN_BUTTON = {"title": TEXTS["btn_human"][0], "payload": "/request_human"}
LOCKED_TEXT = TEXTS["id_locked"][0]
NO_PROFILE_TEXT = TEXTS["no_profile"][0]
LOGIN_HINT_TEXT = TEXTS["login_hint"][0]


def human_button(tracker: Tracker) -> dict[str, str]:
    """The button that hands the conversation to a person, in the conversation's language."""
    return {"title": say(tracker, "btn_human"), "payload": "/request_human"}


# Forms and submit actions that change an account: the check must be recent for them.
CHANGE_FORMS = frozenset({"report_lost_card_form", "freeze_card_form",
                          "change_statement_date_form", "apply_temp_limit_form"})


def user_id_of(tracker: Tracker) -> str | None:
    """The channel user id the gateway put into the latest message's metadata, only when the
    gateway verified it (an anonymous visitor has no card account)."""
    metadata = tracker.latest_message.get("metadata") or {}
    user_id = metadata.get("user_id")
    if metadata.get("user_verified") is not True:
        return None
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


def _verified_at(tracker: Tracker) -> tuple[float | None, list[float]]:
    """When the check last passed in this session, and the user messages' times since."""
    events = tracker.events
    start = max((i for i, e in enumerate(events) if e.get("event") == "session_started"),
                default=-1)
    at: float | None = None
    index = None
    for i in range(start + 1, len(events)):
        e = events[i]
        if e.get("event") == "slot" and e.get("name") == VERIFIED and e.get("value"):
            at, index = e.get("timestamp"), i
    if index is None or at is None:
        return None, []
    users = [float(e["timestamp"]) for e in events[index + 1:]
             if e.get("event") == "user" and e.get("timestamp") is not None]
    return float(at), users


def check_is_fresh(tracker: Tracker, change: bool, now: float | None = None) -> bool:
    """False when the passed check has gone idle, or is too old for an account change."""
    at, user_times = _verified_at(tracker)
    if at is None:
        return True  # no timestamps recorded (never the case in a running Rasa): nothing to age
    settings = get_settings()
    now = time.time() if now is None else now
    moments = [at, *user_times, now]
    longest_idle = max(b - a for a, b in zip(moments, moments[1:], strict=False))
    if longest_idle > settings.identity_idle_seconds:
        return False
    return not (change and now - at > settings.identity_change_window_seconds)


def is_change(tracker: Tracker) -> bool:
    """Whether the running flow changes the account (its form is active or just submitted)."""
    loop = (tracker.active_loop or {}).get("name")
    return loop in CHANGE_FORMS or tracker.latest_action_name in CHANGE_FORMS


def is_verified(tracker: Tracker, change: bool | None = None) -> bool:
    """Identity was checked in this session, recently enough (see `check_is_fresh`)."""
    if not session_value(tracker, VERIFIED) or is_locked(tracker):
        return False
    return check_is_fresh(tracker, is_change(tracker) if change is None else change)


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
        dispatcher.utter_message(text=say(tracker, "id_passed"))
        return {CARD_LAST4: card_last4, ID_LAST6: None, VERIFIED: True, ATTEMPTS: 0}
    attempts = int(session_value(tracker, ATTEMPTS) or 0) + 1
    updates: dict[str, Any] = {CARD_LAST4: None, ID_LAST6: None, ATTEMPTS: attempts}
    if attempts >= MAX_ATTEMPTS:
        dispatcher.utter_message(text=say(tracker, "id_failed_final"))
        updates[LOCKED] = True
    else:
        left = MAX_ATTEMPTS - attempts
        dispatcher.utter_message(text=say(tracker, "id_failed_retry", left=left))
    return updates
