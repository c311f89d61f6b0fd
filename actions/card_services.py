"""Final actions of the self-service card flows: look up or change, then say what happened.

Each runs when its form has finished. It checks again that the cardholder is known, verified
and not locked, honours a "no" to the confirmation, and otherwise reads from or writes to the
card-account store (one transaction per change, re-checking every rule inside it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import identity, retrieval
from actions.card_store import get_client
from actions.forms import (
    AMOUNT,
    CONFIRM,
    FLOW_BY_FORM,
    FLOW_SLOTS,
    ITEM,
    NEW_DAY,
    PERIODS,
    REISSUE,
    REQUESTED_SLOT,
    TARGET_CARD,
    TEMP_AMOUNT,
    TXN,
    active_form,
)
from actions.language import language_of
from actions.meta import ANSWERED, FALLBACK, send_meta
from actions.parsing import fen_to_yuan as yuan
from actions.texts import TEXTS, say, text
from cards import rules, texts, views
from cards.views import CardServiceError, ProfileView

REPAYMENT_WAYS = TEXTS["repay_ways"][0]  # Chinese; the texts are in actions/texts.py


def reset_events() -> list[EventType]:
    """Forget the finished flow's answers (the identity check stays for the conversation)."""
    return [SlotSet(slot, None) for slot in FLOW_SLOTS] + [SlotSet(REQUESTED_SLOT, None)]


def human_offer(dispatcher: CollectingDispatcher, tracker: Tracker, message: str) -> None:
    """A message with the button that hands the conversation to a person."""
    dispatcher.utter_message(text=message, buttons=[identity.human_button(tracker)])


class CardServiceAction(Action, ABC):
    """Shared guard of every final action: known, verified, not locked, confirmed."""

    needs_confirmation = False

    @abstractmethod
    def name(self) -> str:
        """Action name."""

    @abstractmethod
    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        """Do the lookup or change and say the result."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if identity.is_locked(tracker):
            human_offer(dispatcher, tracker, say(tracker, "id_locked"))
            send_meta(dispatcher, FALLBACK, reason="identity_locked", offer_human=True)
            return reset_events()
        profile = identity.profile_of(tracker)
        if profile is None:
            # A visitor who is not logged in ("这个月账单在哪看") still gets the how-to from the KB,
            # then a pointer to where the personal lookup works.
            answered = await retrieval.answer_if_known(dispatcher, tracker,
                                                       reason="no_card_account")
            if answered is not None:
                dispatcher.utter_message(text=say(tracker, "login_hint"))
                return [*reset_events(), *answered]
            human_offer(dispatcher, tracker, say(tracker, "no_profile"))
            send_meta(dispatcher, FALLBACK, reason="no_card_account", offer_human=True)
            return reset_events()
        if not identity.is_verified(tracker,
                                    change=self.form_name() in identity.CHANGE_FORMS):
            # A rule ran this action outside its form, or the check expired: never reveal data.
            dispatcher.utter_message(text=say(tracker, "id_required"))
            send_meta(dispatcher, ANSWERED, reason="identity_required")
            return reset_events()
        blocked = self.blocked(tracker, profile)
        if blocked:
            dispatcher.utter_message(text=blocked)
            send_meta(dispatcher, ANSWERED, flow=self.name(), done=False, reason="not_eligible")
            return reset_events()
        if self.needs_confirmation and tracker.get_slot(CONFIRM) is not True:
            flow = FLOW_BY_FORM.get(self.form_name(), None)
            lang = language_of(tracker)
            what = flow.name_in(lang) if flow else text(lang, "flow_this")
            dispatcher.utter_message(text=text(lang, "cancelled", what=what))
            send_meta(dispatcher, ANSWERED, flow=self.name(), done=False, reason="declined")
            return reset_events()
        try:
            self.perform(dispatcher, tracker, profile)
        except CardServiceError as exc:
            # the store's re-check refuses in both languages (it knows no conversation)
            dispatcher.utter_message(text=say(tracker, "refused",
                                              reason=exc.in_language(language_of(tracker))))
            send_meta(dispatcher, ANSWERED, flow=self.name(), done=False, reason="refused")
            return reset_events()
        send_meta(dispatcher, ANSWERED, flow=self.name(), done=True)
        return reset_events()

    def form_name(self) -> str:
        """The form that leads to this action."""
        return next((f.form for f in FLOW_BY_FORM.values() if f.submit == self.name()), "")

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        """Why the flow cannot be done for this cardholder now (checked again at write time)."""
        return None

    @staticmethod
    def user_id(tracker: Tracker) -> str:
        """The verified cardholder's channel user id."""
        user_id = identity.user_id_of(tracker)
        assert user_id is not None
        return user_id


# --- lookups ----------------------------------------------------------------------------------


class ActionCheckBill(CardServiceAction):
    """Show the latest statement and recent transactions."""

    def name(self) -> str:
        return "action_check_bill"

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        lang = language_of(tracker)
        today = get_client().today()
        stmt = profile.latest_statement
        if stmt is None:
            dispatcher.utter_message(text=text(lang, "bill_none"))
            return
        days = (stmt.due_date - today).days
        when = (text(lang, "days_left", n=days) if days > 0
                else text(lang, "days_today") if days == 0
                else text(lang, "days_past", n=-days))
        lines = [text(lang, "bill_head", date=texts.fmt_date(stmt.statement_date, lang)),
                 text(lang, "bill_total", amount=yuan(stmt.total_fen))]
        if stmt.installed_fen:
            lines.append(text(lang, "bill_installed", amount=yuan(stmt.installed_fen)))
        if stmt.paid_fen:
            lines.append(text(lang, "bill_paid", amount=yuan(stmt.paid_fen)))
        if stmt.remaining_fen:
            lines += [text(lang, "bill_remaining", amount=yuan(stmt.remaining_fen)),
                      text(lang, "bill_min", amount=yuan(stmt.min_remaining_fen)),
                      text(lang, "bill_due", date=texts.fmt_date(stmt.due_date, lang),
                           when=when)]
        else:
            lines.append(text(lang, "bill_settled"))
        recent = get_client().recent_transactions(profile.user_id, limit=5)
        if recent:
            lines.append(text(lang, "bill_recent"))
            lines += [text(lang, "bill_txn", date=texts.fmt_date(t.posted_on, lang),
                           merchant=texts.merchant_name(t.merchant, lang),
                           amount=yuan(t.amount_fen),
                           unbilled="" if t.billed else text(lang, "bill_unbilled"))
                      for t in recent]
        dispatcher.utter_message(text="\n".join(lines))


class ActionRepaymentInfo(CardServiceAction):
    """Say how much to repay, by when, and the ways to pay."""

    def name(self) -> str:
        return "action_repayment_info"

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        lang = language_of(tracker)
        stmt = profile.latest_statement
        if stmt is None or not stmt.remaining_fen:
            head = text(lang, "repay_none")
        else:
            head = text(lang, "repay_head", date=texts.fmt_date(stmt.statement_date, lang),
                        remaining=yuan(stmt.remaining_fen), min=yuan(stmt.min_remaining_fen),
                        due=texts.fmt_date(stmt.due_date, lang))
        dispatcher.utter_message(text=f"{head}\n{text(lang, 'repay_ways')}")


class ActionQueryStatementDate(CardServiceAction):
    """Say the statement day and the next statement and due dates."""

    def name(self) -> str:
        return "action_query_statement_date"

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        lang = language_of(tracker)
        today = get_client().today()
        next_stmt = profile.next_statement_date(today)
        fields = {"day": profile.statement_day, "day_en": texts.ordinal(profile.statement_day),
                  "next": texts.fmt_date(next_stmt, lang),
                  "due": texts.fmt_date(rules.due_date_for(next_stmt), lang)}
        changed = bool(profile.old_day_closes_on and profile.old_day_closes_on >= today)
        dispatcher.utter_message(text=text(lang, "stmt_changed" if changed else "stmt_day",
                                           **fields))


class ActionCheckPoints(CardServiceAction):
    """Show the points balance and what expires soon."""

    def name(self) -> str:
        return "action_check_points"

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        lang = language_of(tracker)
        today = get_client().today()
        balance = profile.points_balance(today)
        out = text(lang, "points_balance", balance=balance)
        expiring, until = profile.points_expiring_this_month(today)
        if expiring and until:
            out += text(lang, "points_expiring", points=expiring,
                        date=texts.fmt_date(until, lang))
        upcoming = [(p, e) for p, e in profile.points_lots
                    if e >= today and (e.year, e.month) != (today.year, today.month)]
        if upcoming:
            points, expires = upcoming[0]
            out += text(lang, "points_next_lot", points=points,
                        date=texts.fmt_date(expires, lang, True))
        out += text(lang, "points_tail")
        dispatcher.utter_message(text=out)


class ActionCheckCreditLimit(CardServiceAction):
    """Show the credit, temporary, available and cash limits."""

    def name(self) -> str:
        return "action_check_credit_limit"

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        lang = language_of(tracker)
        today = get_client().today()
        out = text(lang, "limit_head", limit=yuan(profile.credit_limit_fen))
        temp = profile.active_temp_limit_fen(today)
        if temp and profile.temp_limit_end:
            out += text(lang, "limit_temp", temp=yuan(temp),
                        end=texts.fmt_date(profile.temp_limit_end, lang, True))
        out += text(lang, "limit_tail", available=yuan(profile.available_fen(today)),
                    cash=yuan(profile.credit_limit_fen // 2))
        dispatcher.utter_message(text=out)


class ActionAnnualFee(CardServiceAction):
    """Show each card's annual fee and how to have it waived."""

    def name(self) -> str:
        return "action_annual_fee"

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        lang = language_of(tracker)
        today = get_client().today()
        points = profile.points_balance(today)
        lines = [views.annual_fee_status(card, today, points, lang) for card in profile.cards
                 if card.status != "lost"]
        lines.append(text(lang, "fee_rules"))
        dispatcher.utter_message(text="\n".join(lines))


# --- changes ------------------------------------------------------------------------------------


class ActionChangeStatementDate(CardServiceAction):
    """Change the statement day after the cardholder confirmed it."""

    needs_confirmation = True

    def name(self) -> str:
        return "action_change_statement_date"

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        return views.statement_change_block(profile, get_client().today(), language_of(tracker))

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        lang = language_of(tracker)
        done = get_client().change_statement_day(self.user_id(tracker),
                                                 int(tracker.get_slot(NEW_DAY)))
        dispatcher.utter_message(text=text(
            lang, "day_changed", day=done.new_day, day_en=texts.ordinal(done.new_day),
            month=done.first_new_date.month, closing=texts.fmt_date(done.closing_date, lang),
            first=texts.fmt_date(done.first_new_date, lang)))


def purchase_what(lang: str, description: str, profile: ProfileView, txn_id: int) -> str:
    """The purchase put into instalments: the store's description (Chinese, for its own
    records), or for English the same purchase labelled from the account."""
    if lang != "en":
        return description
    txn = next((x for x in profile.unbilled if x.id == txn_id), None)
    return txn.label_in(lang) if txn else description


class ActionInstallmentBill(CardServiceAction):
    """Put the confirmed part of the statement into instalments."""

    needs_confirmation = True

    def name(self) -> str:
        return "action_installment_bill"

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        return views.bill_installment_block(profile, get_client().today(), language_of(tracker))

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        lang = language_of(tracker)
        client = get_client()
        user_id = self.user_id(tracker)
        stmt_before = profile.latest_statement
        amount = int(tracker.get_slot(AMOUNT))
        done = client.create_bill_installment(user_id, amount, int(tracker.get_slot(PERIODS)))
        q = done.quote
        after = client.profile(user_id)
        stmt = after.latest_statement if after else None
        rest = (text(lang, "bill_inst_rest", remaining=yuan(stmt.remaining_fen),
                     min=yuan(stmt.min_remaining_fen), due=texts.fmt_date(stmt.due_date, lang))
                if stmt and stmt.remaining_fen else text(lang, "bill_inst_rest_none"))
        what = (text(lang, "inst_bill_what", amount=yuan(amount),
                     date=texts.fmt_date(stmt_before.statement_date, lang))
                if lang == "en" and stmt_before else done.description)
        dispatcher.utter_message(text=text(
            lang, "bill_inst_done", what=what, periods=q.periods,
            fee=yuan(q.fee_per_period_fen), first=yuan(q.first_payment_fen), rest=rest))


class ActionInstallmentSingle(CardServiceAction):
    """Put the confirmed purchase into instalments."""

    needs_confirmation = True

    def name(self) -> str:
        return "action_installment_single"

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        return views.single_installment_block(profile, language_of(tracker))

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        lang = language_of(tracker)
        txn_id = int(tracker.get_slot(TXN))
        done = get_client().create_single_installment(
            self.user_id(tracker), txn_id, int(tracker.get_slot(PERIODS)))
        q = done.quote
        dispatcher.utter_message(text=text(
            lang, "single_inst_done", what=purchase_what(lang, done.description, profile, txn_id),
            periods=q.periods, fee=yuan(q.fee_per_period_fen), first=yuan(q.first_payment_fen),
            principal=yuan(q.first_principal_fen)))


class ActionRedeemPoints(CardServiceAction):
    """Redeem the confirmed catalogue item."""

    needs_confirmation = True

    def name(self) -> str:
        return "action_redeem_points"

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        return views.redeem_block(profile, get_client().today(), language_of(tracker))

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        lang = language_of(tracker)
        done = get_client().redeem_points(self.user_id(tracker), str(tracker.get_slot(ITEM)))
        dispatcher.utter_message(text=text(
            lang, "redeem_done", points=done.item.points, item=texts.item_name(done.item, lang),
            left=done.points_left))


class ActionApplyTempLimit(CardServiceAction):
    """Grant the confirmed temporary limit."""

    needs_confirmation = True

    def name(self) -> str:
        return "action_apply_temp_limit"

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        return views.temp_limit_block(profile, get_client().today(), language_of(tracker))

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        lang = language_of(tracker)
        done = get_client().apply_temp_limit(self.user_id(tracker),
                                             int(tracker.get_slot(TEMP_AMOUNT)))
        dispatcher.utter_message(text=text(
            lang, "temp_done", amount=yuan(done.amount_fen),
            end=texts.fmt_date(done.end, lang, True), available=yuan(done.available_fen)))


class ActionReportLostCard(CardServiceAction):
    """Report the confirmed card lost (at once) and order a replacement if wanted."""

    needs_confirmation = True

    def name(self) -> str:
        return "action_report_lost_card"

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        return (None if views.lost_candidates(profile)
                else views.no_card_message("lost", language_of(tracker)))

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        lang = language_of(tracker)
        done = get_client().report_lost(self.user_id(tracker), str(tracker.get_slot(TARGET_CARD)),
                                        bool(tracker.get_slot(REISSUE)))
        out = text(lang, "lost_done", label=texts.card_label(done.last4, done.tier, lang))
        if done.new_last4:
            fee = (text(lang, "lost_new_fee", fee=yuan(done.fee_fen)) if done.fee_fen
                   else text(lang, "lost_new_free"))
            out += text(lang, "lost_new_card", last4=done.new_last4, fee=fee)
        else:
            out += text(lang, "lost_no_new_card")
        out += text(lang, "lost_tail")
        dispatcher.utter_message(text=out)


class ActionFreezeCard(CardServiceAction):
    """Freeze the confirmed card."""

    needs_confirmation = True

    def name(self) -> str:
        return "action_freeze_card"

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        return (None if views.freeze_candidates(profile)
                else views.no_card_message("freeze", language_of(tracker)))

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        lang = language_of(tracker)
        done = get_client().freeze_card(self.user_id(tracker), str(tracker.get_slot(TARGET_CARD)))
        dispatcher.utter_message(text=text(
            lang, "freeze_done", label=texts.card_label(done.last4, done.tier, lang)))


class ActionActivateCard(CardServiceAction):
    """Activate the confirmed card."""

    needs_confirmation = True

    def name(self) -> str:
        return "action_activate_card"

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        return (None if views.activation_candidates(profile)
                else views.no_card_message("activate", language_of(tracker)))

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        lang = language_of(tracker)
        done = get_client().activate_card(self.user_id(tracker),
                                          str(tracker.get_slot(TARGET_CARD)))
        fee = rules.ANNUAL_FEE_FEN[done.tier]
        rule = (text(lang, "activate_rule_swipes", n=rules.SWIPES_TO_WAIVE[done.tier])
                if done.tier in rules.SWIPES_TO_WAIVE else text(lang, "activate_rule_points"))
        dispatcher.utter_message(text=text(
            lang, "activate_done", label=texts.card_label(done.last4, done.tier, lang),
            fee=yuan(fee), rule=rule))


# --- starting and leaving a flow -------------------------------------------------------------


class ActionStartFlow(Action):
    """Clear the answers of any earlier flow before a new form starts."""

    def name(self) -> str:
        return "action_start_flow"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = []
        if tracker.active_loop.get("name"):
            events.append(ActiveLoop(None))  # switching flows: the old one is dropped
        # Only slots that hold something: Rasa hands every slot event after the user's message
        # to the next form as a candidate value.
        names = [*FLOW_SLOTS, REQUESTED_SLOT]
        if not identity.is_verified(tracker):
            # Digits from an earlier session must be given again.
            names += identity.IDENTITY_SLOTS
        stale = [s for s in names if tracker.get_slot(s) is not None]
        return events + [SlotSet(s, None) for s in stale]


class ActionCancelFlow(Action):
    """Stop the running form without changing anything, and say so."""

    def name(self) -> str:
        return "action_cancel_flow"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        flow = FLOW_BY_FORM.get(active_form(tracker))
        lang = language_of(tracker)
        what = flow.name_in(lang) if flow else text(lang, "flow_any")
        dispatcher.utter_message(text=text(lang, "cancelled", what=what))
        send_meta(dispatcher, ANSWERED, flow=flow.submit if flow else None, done=False,
                  reason="cancelled")
        return [ActiveLoop(None), *reset_events()]

