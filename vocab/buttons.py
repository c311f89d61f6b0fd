"""The English titles of the KB's answer buttons and links (issue 19). Standard library only:
the action server (Rasa runtime) and the API's degraded mode (service runtime) word a button
alike.

An entry's buttons are written in Chinese (``title``) with an optional English ``title_en``.
The English title a cardholder sees is, in this order:

1. the button's own ``title_en``;
2. for a ``/faq{"kb_entry_id": ...}`` button, the target entry's ``question_en``;
3. for an intent payload (``/report_lost_card``), the intent's label in ``INTENT_TITLES_EN``;
4. else the Chinese ``title`` (an English cardholder can still click it: the payload is what
   the bot reads).

Steps 1-2 need the KB (the target entry): the KB search resolves them into the hit's buttons
(``resolved_title_en``); steps 3-4 are applied again here by whoever renders the button, so
a hit from a KB that did not resolve still gets an English label for its intents.
The payload never changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

# One label per intent a KB button may trigger: an action in the cardholder's words, short
# enough for a WeChat option line and a widget button.
INTENT_TITLES_EN: dict[str, str] = {
    "request_human": "Talk to an agent",
    "report_lost_card": "Report card lost",
    "freeze_card": "Lock my card",
    "activate_card": "Activate my card",
    "check_bill": "Check my bill",
    "repayment": "Repay now",
    "check_credit_limit": "Check my credit limit",
    "apply_temp_limit": "Ask for a temporary limit",
    "annual_fee": "Check my annual fee",
    "check_points": "Check my points",
    "redeem_points": "Redeem points",
    "query_statement_date": "Check my statement date",
    "change_statement_date": "Change my statement date",
    "installment_bill": "Pay my bill in instalments",
    "installment_single": "Split a purchase into instalments",
}

_INTENT_PAYLOAD = re.compile(r"^/([a-z][a-z0-9_]*)$")
_FAQ_PAYLOAD = re.compile(r"^/faq(\{.*\})$", re.S)


def intent_of(payload: str) -> str | None:
    """The intent of an ``/intent`` payload (None for ``/faq{...}`` or free text)."""
    match = _INTENT_PAYLOAD.match(payload.strip())
    return match.group(1) if match else None


def target_of(payload: str) -> str | None:
    """The entry id a ``/faq{"kb_entry_id": ...}`` payload points at, else None."""
    match = _FAQ_PAYLOAD.match(payload.strip())
    if not match:
        return None
    try:
        value = json.loads(match.group(1)).get("kb_entry_id")
    except (ValueError, AttributeError):
        return None
    return str(value) if value else None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def resolved_title_en(button: Mapping[str, Any],
                      question_en_of: Callable[[str], str | None] | None = None) -> str | None:
    """The English title of a button by the rule above, or None when only the Chinese title
    is left. ``question_en_of`` maps an entry id to that entry's ``question_en`` (the KB)."""
    own = _text(button.get("title_en"))
    if own:
        return own
    payload = _text(button.get("payload"))
    target = target_of(payload)
    if target is not None:
        return _text(question_en_of(target) if question_en_of else None) or None
    intent = intent_of(payload)
    return INTENT_TITLES_EN.get(intent) if intent else None


def button_for(button: Mapping[str, Any], lang: str) -> dict[str, str]:
    """The ``{"title", "payload"}`` a cardholder gets, titled in the conversation's language."""
    title = str(button.get("title") or "")
    if lang == "en":
        title = resolved_title_en(button) or title
    return {"title": title, "payload": str(button.get("payload") or "")}


def link_for(link: Mapping[str, Any], lang: str) -> dict[str, str]:
    """The ``{"title", "url"}`` of a link in the conversation's language (``title_en`` for
    English when the link has one, else its Chinese title)."""
    title = str(link.get("title") or "")
    if lang == "en":
        title = _text(link.get("title_en")) or title
    return {"title": title, "url": str(link.get("url") or "")}
