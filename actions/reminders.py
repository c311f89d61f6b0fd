"""The caring goodbye ("10秒关怀"): a farewell plus the one reminder that matters most.

Priority: a payment due within 3 days, points expiring this month, a temporary limit about to
end, an annual fee coming up, a card not yet activated. Amounts are only mentioned once the
cardholder passed the identity check in this conversation; before that the reminder says what
to look at, not how much.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import identity
from actions.card_store import get_client
from actions.language import language_of
from actions.meta import ANSWERED, send_meta
from actions.parsing import fen_to_yuan
from actions.texts import TEXTS, say, text
from cards import rules, texts
from cards.models import ACTIVE, INACTIVE
from cards.views import ProfileView

GOODBYE = TEXTS["goodbye"][0]  # Chinese; the texts are in actions/texts.py


@dataclass(frozen=True)
class Reminder:
    """One reminder: its kind (for the gateway's records) and the sentence to say."""

    kind: str
    text: str


def _in_days(day: date, today: date, lang: str = "zh") -> str:
    days = (day - today).days
    if days in (0, 1):
        return text(lang, f"in_days_{days}")
    return text(lang, "in_days_n", n=days)


def _card_name(last4: str, verified: bool, lang: str = "zh") -> str:
    """"尾号1234的" once verified; never before, as the last-4 is half of the identity check."""
    return text(lang, "rem_card_named", last4=last4) if verified else text(lang, "rem_card_plain")


def payment_due(profile: ProfileView, today: date, verified: bool,
                lang: str = "zh") -> Reminder | None:
    """Unpaid statement due within 3 days."""
    stmt = profile.latest_statement
    if stmt is None or not stmt.remaining_fen:
        return None
    days = (stmt.due_date - today).days
    if not 0 <= days <= rules.PAYMENT_REMINDER_DAYS:
        return None
    amount = (text(lang, "rem_payment_amount", amount=fen_to_yuan(stmt.remaining_fen))
              if verified else "")
    return Reminder("payment_due", text(lang, "rem_payment",
                                        date=texts.fmt_date(stmt.due_date, lang),
                                        when=_in_days(stmt.due_date, today, lang),
                                        amount=amount))


def points_expiring(profile: ProfileView, today: date, verified: bool,
                    lang: str = "zh") -> Reminder | None:
    """Points that expire before the end of this month."""
    points, until = profile.points_expiring_this_month(today)
    if not points or until is None:
        return None
    amount = (text(lang, "rem_points_some", points=points) if verified
              else text(lang, "rem_points_any"))
    return Reminder("points_expiring", text(lang, "rem_points", amount=amount,
                                            date=texts.fmt_date(until, lang)))


def temp_limit_ending(profile: ProfileView, today: date, verified: bool,
                      lang: str = "zh") -> Reminder | None:
    """A temporary limit ending within 7 days."""
    end = profile.temp_limit_end
    if not profile.active_temp_limit_fen(today) or end is None:
        return None
    if (end - today).days > rules.TEMP_LIMIT_REMINDER_DAYS:
        return None
    amount = ""
    if verified:
        amount = text(lang, "rem_amount", amount=fen_to_yuan(profile.temp_limit_fen))
    return Reminder("temp_limit_ending", text(lang, "rem_temp", amount=amount,
                                              date=texts.fmt_date(end, lang)))


def annual_fee_due(profile: ProfileView, today: date, verified: bool,
                   lang: str = "zh") -> Reminder | None:
    """An annual fee charged within 30 days that is not already waived."""
    for card in profile.cards:
        when = card.annual_fee_next_on
        if card.status != ACTIVE or when is None:
            continue
        if not 0 <= (when - today).days <= rules.ANNUAL_FEE_REMINDER_DAYS:
            continue
        need = rules.SWIPES_TO_WAIVE.get(card.tier)
        if need is not None and card.swipes_this_year >= need:
            continue  # already waived: nothing to remind
        if need is not None:
            how = text(lang, "rem_fee_swipes", n=need - card.swipes_this_year)
        else:
            how = text(lang, "rem_fee_points", points=rules.PLATINUM_FEE_POINTS)
        fee_yuan = fen_to_yuan(rules.ANNUAL_FEE_FEN[card.tier])
        fee = text(lang, "rem_amount", amount=fee_yuan) if verified else ""
        tier = texts.tier_name(card.tier, lang)
        name = text(lang, "rem_card", tier=tier, card=_card_name(card.last4, verified, lang))
        return Reminder("annual_fee_due", text(lang, "rem_fee", name=name, fee=fee,
                                               date=texts.fmt_date(when, lang), how=how))
    return None


def card_not_activated(profile: ProfileView, today: date, verified: bool,
                       lang: str = "zh") -> Reminder | None:
    """A card waiting for activation."""
    waiting = [c for c in profile.cards if c.status == INACTIVE]
    if not waiting:
        return None
    card = waiting[0]
    return Reminder("card_not_activated",
                    text(lang, "rem_activate", card=_card_name(card.last4, verified, lang),
                         tier=texts.tier_name(card.tier, lang)))


# Most urgent first: money that is due, then value about to be lost, then plain housekeeping.
CHECKS = (payment_due, points_expiring, temp_limit_ending, annual_fee_due, card_not_activated)


def pick_reminder(profile: ProfileView, today: date, verified: bool,
                  lang: str = "zh") -> Reminder | None:
    """The single most relevant reminder for this cardholder today, or None."""
    for check in CHECKS:
        reminder = check(profile, today, verified, lang)
        if reminder:
            return reminder
    return None


class ActionGoodbye(Action):
    """Say goodbye with the one reminder that matters most to this cardholder."""

    def name(self) -> str:
        return "action_goodbye"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reminder = None
        if not identity.is_locked(tracker):
            profile = identity.profile_of(tracker)
            if profile is not None:
                reminder = pick_reminder(profile, get_client().today(),
                                         identity.is_verified(tracker), language_of(tracker))
        dispatcher.utter_message(text=say(tracker, "goodbye"))
        if reminder:
            dispatcher.utter_message(text=reminder.text)
        # `end`: the cardholder closed the conversation; the gateway asks the NPS question.
        send_meta(dispatcher, ANSWERED, reminder=reminder.kind if reminder else None,
                  end="goodbye")
        return []
