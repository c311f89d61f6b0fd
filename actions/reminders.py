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
from actions.meta import ANSWERED, send_meta
from actions.parsing import fen_to_yuan
from cards import rules
from cards.models import ACTIVE, INACTIVE
from cards.views import ProfileView

GOODBYE = "感谢您的咨询，祝您生活愉快，再见！"


@dataclass(frozen=True)
class Reminder:
    """One reminder: its kind (for the gateway's records) and the sentence to say."""

    kind: str
    text: str


def _in_days(day: date, today: date) -> str:
    days = (day - today).days
    return "今天" if days == 0 else "明天" if days == 1 else f"{days}天后"


def _card_name(last4: str, verified: bool) -> str:
    """"尾号1234的" once verified; never before, as the last-4 is half of the identity check."""
    return f"尾号{last4}的" if verified else "的"


def payment_due(profile: ProfileView, today: date, verified: bool) -> Reminder | None:
    """Unpaid statement due within 3 days."""
    stmt = profile.latest_statement
    if stmt is None or not stmt.remaining_fen:
        return None
    days = (stmt.due_date - today).days
    if not 0 <= days <= rules.PAYMENT_REMINDER_DAYS:
        return None
    amount = f"，本期还需还款{fen_to_yuan(stmt.remaining_fen)}元" if verified else ""
    when = f"{rules.fmt_date(stmt.due_date)}（{_in_days(stmt.due_date, today)}）"
    return Reminder("payment_due",
                    f"温馨提醒：您的账单将于{when}到期{amount}，记得按时还款，以免影响征信哦。")


def points_expiring(profile: ProfileView, today: date, verified: bool) -> Reminder | None:
    """Points that expire before the end of this month."""
    points, until = profile.points_expiring_this_month(today)
    if not points or until is None:
        return None
    amount = f"有{points:,}积分" if verified else "有一部分积分"
    return Reminder("points_expiring",
                    f"温馨提醒：您{amount}将于{rules.fmt_date(until)}到期，"
                    "可以在App“积分商城”兑换，或直接对我说“积分兑换”。")


def temp_limit_ending(profile: ProfileView, today: date, verified: bool) -> Reminder | None:
    """A temporary limit ending within 7 days."""
    end = profile.temp_limit_end
    if not profile.active_temp_limit_fen(today) or end is None:
        return None
    if (end - today).days > rules.TEMP_LIMIT_REMINDER_DAYS:
        return None
    amount = f"{fen_to_yuan(profile.temp_limit_fen)}元" if verified else ""
    return Reminder("temp_limit_ending",
                    f"温馨提醒：您的临时额度{amount}将于{rules.fmt_date(end)}到期失效，"
                    "临时额度部分需在账单中全额还清，请提前安排资金。")


def annual_fee_due(profile: ProfileView, today: date, verified: bool) -> Reminder | None:
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
            how = f"本年度再刷卡{need - card.swipes_this_year}次即可免年费"
        else:
            how = f"可用{rules.PLATINUM_FEE_POINTS:,}积分抵扣"
        fee = f"{fen_to_yuan(rules.ANNUAL_FEE_FEN[card.tier])}元" if verified else ""
        name = f"{_card_name(card.last4, verified)}{card.tier_name}"
        return Reminder("annual_fee_due",
                        f"温馨提醒：您{name}年费{fee}将于"
                        f"{rules.fmt_date(when)}收取，{how}。")
    return None


def card_not_activated(profile: ProfileView, today: date, verified: bool) -> Reminder | None:
    """A card waiting for activation."""
    waiting = [c for c in profile.cards if c.status == INACTIVE]
    if not waiting:
        return None
    card = waiting[0]
    return Reminder("card_not_activated",
                    f"温馨提醒：您{_card_name(card.last4, verified)}新{card.tier_name}还没有激活，"
                    "对我说“激活信用卡”即可办理，未激活的新卡不收年费。")


# Most urgent first: money that is due, then value about to be lost, then plain housekeeping.
CHECKS = (payment_due, points_expiring, temp_limit_ending, annual_fee_due, card_not_activated)


def pick_reminder(profile: ProfileView, today: date, verified: bool) -> Reminder | None:
    """The single most relevant reminder for this cardholder today, or None."""
    for check in CHECKS:
        reminder = check(profile, today, verified)
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
                                         identity.is_verified(tracker))
        dispatcher.utter_message(text=GOODBYE)
        if reminder:
            dispatcher.utter_message(text=reminder.text)
        # `end`: the cardholder closed the conversation; the gateway asks the NPS question.
        send_meta(dispatcher, ANSWERED, reminder=reminder.kind if reminder else None,
                  end="goodbye")
        return []
