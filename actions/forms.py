"""Form validation and slot questions of the self-service card flows.

Every flow is a Rasa form that starts with the identity check (card last-4 + ID last-6) and then
asks for its own slots. Values are read from the NLU entities or, failing that, from the text
with `actions.parsing`; a value given while another question is open (a correction such as
"不对，改成20号" during the confirmation) replaces the old one and the question is asked again.
Messages the form cannot use as an answer (a FAQ, "算了不办了") make the form step aside so
that the rules in bot/data/card_services.yml can answer, cancel or hand over.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import identity, parsing
from actions.card_store import get_client
from actions.language import language_of
from actions.meta import FORM, send_meta
from actions.texts import text as t
from cards import rules, texts, views
from cards.views import ProfileView

REQUESTED_SLOT = "requested_slot"
CONFIRM = "confirm"
TARGET_CARD = "target_card_last4"
NEW_DAY = "new_statement_day"
AMOUNT = "installment_amount_fen"
TXN = "installment_txn_id"
PERIODS = "installment_periods"
ITEM = "points_item_code"
TEMP_AMOUNT = "temp_limit_fen"
REISSUE = "reissue_card"
# Slots a flow fills; cleared when a flow starts, ends or is cancelled (identity slots stay).
FLOW_SLOTS = [TARGET_CARD, NEW_DAY, AMOUNT, TXN, PERIODS, ITEM, TEMP_AMOUNT, REISSUE, CONFIRM]


@dataclass(frozen=True)
class Flow:
    """A self-service flow: the intent that starts it, its form, its final action, its name."""

    intent: str
    form: str
    submit: str
    title: str  # Chinese; `name_in` gives the conversation's language (actions/texts.py)

    def name_in(self, lang: str) -> str:
        """账单查询 / bill lookup."""
        return t(lang, f"flow_{self.intent}")


FLOWS: list[Flow] = [
    Flow("check_bill", "check_bill_form", "action_check_bill", "账单查询"),
    Flow("repayment", "repayment_form", "action_repayment_info", "还款查询"),
    Flow("query_statement_date", "query_statement_date_form", "action_query_statement_date",
         "账单日查询"),
    Flow("change_statement_date", "change_statement_date_form", "action_change_statement_date",
         "账单日修改"),
    Flow("installment_bill", "installment_bill_form", "action_installment_bill", "账单分期"),
    Flow("installment_single", "installment_single_form", "action_installment_single",
         "单笔分期"),
    Flow("check_points", "check_points_form", "action_check_points", "积分查询"),
    Flow("redeem_points", "redeem_points_form", "action_redeem_points", "积分兑换"),
    Flow("check_credit_limit", "check_credit_limit_form", "action_check_credit_limit", "额度查询"),
    Flow("apply_temp_limit", "apply_temp_limit_form", "action_apply_temp_limit", "临时额度申请"),
    Flow("report_lost_card", "report_lost_card_form", "action_report_lost_card", "挂失"),
    Flow("freeze_card", "freeze_card_form", "action_freeze_card", "冻结卡片"),
    Flow("activate_card", "activate_card_form", "action_activate_card", "开卡激活"),
    Flow("annual_fee", "annual_fee_form", "action_annual_fee", "年费查询"),
]
FLOW_BY_FORM = {f.form: f for f in FLOWS}
SELF_SERVICE_INTENTS = {f.intent for f in FLOWS}

# Never an answer to the bot's question: the form steps aside and the rules take over.
STEP_ASIDE_INTENTS = {
    "faq", "cancel", "request_human", "complain", "fraud_dispute", "chitchat", "out_of_scope",
    "other_bank_product", "greet", "goodbye", "thanks", "bot_challenge", "none_of_these",
}
# Actions that may run between the user's message and the form's validation of it.
ANSWER_PATH_ACTIONS = {"action_listen", "action_extract_slots", "action_start_flow"}



def confirm_buttons(lang: str) -> list[dict[str, str]]:
    """确认 / 取消 in the conversation's language (payloads are language-free)."""
    return [{"title": t(lang, "btn_confirm"), "payload": "/affirm"},
            {"title": t(lang, "btn_cancel"), "payload": "/deny"}]


# The hint that re-asks a slot whose answer could not be used (keys "hint_<slot>").
HINT_SLOTS = frozenset({identity.CARD_LAST4, identity.ID_LAST6, NEW_DAY, AMOUNT, TXN, PERIODS,
                        ITEM, TEMP_AMOUNT, TARGET_CARD, REISSUE, CONFIRM})


def hint(slot: str | None, lang: str) -> str:
    """How to answer `slot` (the confirmation's hint for anything else)."""
    return t(lang, f"hint_{slot if slot in HINT_SLOTS else CONFIRM}")


# --- reading the tracker ------------------------------------------------------------------------


def message_text(tracker: Tracker) -> str:
    """Text of the latest user message; empty for a button payload (its entities carry it)."""
    text = str(tracker.latest_message.get("text") or "")
    return "" if text.startswith("/") else text


def intent_of(tracker: Tracker) -> str:
    """Intent of the latest user message."""
    return str((tracker.latest_message.get("intent") or {}).get("name") or "")


def entity_values(tracker: Tracker, entity: str | None) -> list[str]:
    """Values of one entity in the latest message."""
    if not entity:
        return []
    return [str(v) for v in tracker.get_latest_entity_values(entity) if v is not None]


def answers_latest_message(tracker: Tracker, form: str) -> bool:
    """True when this validation is about the user's newest message.

    After a digression (the form resumes once the KB answered) the newest message was the
    question, not an answer, and must not be read as one.
    """
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            seen_user = True
            break
        if kind == "action" and event.get("name") not in ANSWER_PATH_ACTIONS | {form}:
            return False
    return seen_user


def is_yes(tracker: Tracker) -> bool | None:
    """True for yes, False for no, None when the message is neither."""
    intent, text = intent_of(tracker), message_text(tracker)
    if intent == "affirm" or parsing.is_affirm_text(text):
        return True
    if intent == "deny" or parsing.is_deny_text(text):
        return False
    return None


class Context:
    """The cardholder of a tracker, loaded once per use."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    @cached_property
    def lang(self) -> str:
        """The conversation's language (zh | en)."""
        return language_of(self.tracker)

    @cached_property
    def profile(self) -> ProfileView | None:
        """The cardholder, or None when the channel user has no cards with us."""
        return identity.profile_of(self.tracker)

    @cached_property
    def today(self) -> date:
        """The store's business date."""
        return get_client().today()


# --- slot parsers -------------------------------------------------------------------------------

Parser = Callable[[str, Context], Any]

_ALL_WORDS = re.compile(r"全部|全额|所有|都分|整个|全都")
_ORDINAL = re.compile(r"第\s*(\d|[一二三四五六七八九十])\s*笔")


def parse_day(text: str, _ctx: Context) -> int | None:
    """Day of the month."""
    return parsing.parse_day(text)


def parse_periods(text: str, _ctx: Context) -> int | None:
    """Number of instalments."""
    return parsing.parse_period(text)


def parse_fen(text: str, _ctx: Context) -> int | None:
    """A money amount in fen."""
    amount = parsing.parse_amount(text)
    return parsing.amount_to_fen(amount) if amount is not None else None


def parse_bill_amount(text: str, ctx: Context) -> int | None:
    """Amount to put into a bill instalment; "全部" means all that is still unpaid."""
    if _ALL_WORDS.search(text) and ctx.profile and ctx.profile.latest_statement:
        return ctx.profile.latest_statement.remaining_fen
    return parse_fen(text, ctx)


def parse_transaction(text: str, ctx: Context) -> int | None:
    """One of the purchases offered for a single instalment: by amount, merchant or ordinal."""
    if ctx.profile is None:
        return None
    candidates = views.single_installment_candidates(ctx.profile)
    amount = parsing.parse_amount(text)
    if amount is not None:
        fen = parsing.amount_to_fen(amount)
        match = [t for t in candidates if t.amount_fen == fen]
        if len(match) == 1:
            return match[0].id
    lowered = text.lower()
    by_name = [t for t in candidates if t.merchant and (
        t.merchant in text or texts.merchant_name(t.merchant, "en").lower() in lowered)]
    if len(by_name) == 1:
        return by_name[0].id
    ordinal = _ORDINAL.search(text)
    if ordinal:
        index = parsing.cn_to_int(ordinal.group(1))
        if index and 1 <= index <= len(candidates):
            return candidates[index - 1].id
    if len(candidates) == 1 and re.search(r"这笔|就这|就是它|是的|对", text):
        return candidates[0].id
    return None


def parse_item(text: str, _ctx: Context) -> str | None:
    """A points catalogue item code."""
    item = rules.catalogue_item(text)
    return item.code if item else None


def parse_card(text: str, _ctx: Context) -> str | None:
    """Last four digits of a card."""
    return parsing.parse_card_last4(text)


_CARD_IN_CONTEXT = re.compile(r"(?:尾号|尾数|后四位|后4位|末四位|末4位)\D{0,3}(\d{4})(?!\d)")


def parse_card_unasked(text: str, _ctx: Context) -> str | None:
    """A card named with 尾号/后四位 while another question is open (bare numbers are not)."""
    match = _CARD_IN_CONTEXT.search(parsing.normalise(text).replace(" ", ""))
    return match.group(1) if match else None


@dataclass(frozen=True)
class SlotSpec:
    """How a flow slot is read from a message."""

    entity: str | None
    parse: Parser
    # When the slot is not the one being asked: a stricter parser and a plausibility gate, so
    # that an answer to one question ("12" periods) is not misread as another slot (12 yuan).
    parse_unasked: Parser | None = None
    plausible: Callable[[Any], bool] = lambda value: True
    # False: only filled by the answer to its own question or by the flow's opening message.
    unasked: bool = True


SPECS: dict[str, SlotSpec] = {
    NEW_DAY: SlotSpec("day", parse_day, plausible=lambda d: 1 <= d <= 31),
    AMOUNT: SlotSpec("amount", parse_bill_amount, plausible=lambda fen: fen >= 100_00),
    TXN: SlotSpec("amount", parse_transaction, unasked=False),
    PERIODS: SlotSpec("period", parse_periods,
                      plausible=lambda n: n in rules.INSTALLMENT_RATES_BP),
    ITEM: SlotSpec("points_item", parse_item),
    TEMP_AMOUNT: SlotSpec("amount", parse_fen, plausible=lambda fen: fen >= 100_00),
    TARGET_CARD: SlotSpec("card_last4", parse_card, parse_unasked=parse_card_unasked),
}


# --- the shared form validation ---------------------------------------------------------------


class CardFormValidation(FormValidationAction, ABC):
    """Identity first, then the flow's own slots; corrections welcome at any question."""

    @abstractmethod
    def name(self) -> str:
        """validate_<form name>."""

    # Hooks for the flows ---------------------------------------------------------------------

    def block_reason(self, ctx: Context) -> str | None:
        """Why this cardholder cannot use the flow now (the final action says it); None if ok."""
        return None

    def slot_error(self, slot: str, value: Any, ctx: Context) -> str | None:
        """Why a value cannot be used (checked against the account once identity is known)."""
        return None

    def default_values(self, ctx: Context, tracker: Tracker) -> dict[str, Any]:
        """Slots that need no question for this cardholder (e.g. their only new card)."""
        return {}

    # Slot list -------------------------------------------------------------------------------

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Nothing when locked or unknown (the final action explains), identity first."""
        if identity.is_locked(tracker):
            return []
        ctx = Context(tracker)
        if ctx.profile is None:
            return []
        if not identity.is_verified(tracker):
            return identity.IDENTITY_SLOTS + domain_slots
        if self.block_reason(ctx):
            return []
        return domain_slots

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Validate, and re-ask (with a hint) when an answer-like message could not be used."""
        requested = tracker.get_slot(REQUESTED_SLOT)
        answering = answers_latest_message(tracker, self.form_name())
        events = await super().run(dispatcher, tracker, domain)
        filled = [e for e in events if e.get("event") == "slot" and e.get("name") != REQUESTED_SLOT]
        if requested and answering and not filled and self._is_answer_like(tracker):
            # Returning a slot event keeps the form in charge instead of the fallback rules.
            dispatcher.utter_message(text=hint(requested, language_of(tracker)))
            events.append(SlotSet(requested, None))
        return events

    def _is_answer_like(self, tracker: Tracker) -> bool:
        intent = intent_of(tracker)
        if intent in STEP_ASIDE_INTENTS or intent in ("deny", "nlu_fallback"):
            return False
        own = FLOW_BY_FORM[self.form_name()].intent
        return intent == own or intent not in SELF_SERVICE_INTENTS

    def _may_extract(self, tracker: Tracker) -> bool:
        return (answers_latest_message(tracker, self.form_name())
                and intent_of(tracker) not in STEP_ASIDE_INTENTS)

    # Identity --------------------------------------------------------------------------------

    def extract_card_last4(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Card last-4 from 尾号1234, a bare 1234 or 一二三四 while identity is being asked."""
        if identity.is_verified(tracker) or not self._may_extract(tracker):
            return {}
        requested = tracker.get_slot(REQUESTED_SLOT)
        text = message_text(tracker)
        if requested in identity.IDENTITY_SLOTS:
            candidates = [*entity_values(tracker, "card_last4"), text]
            for candidate in candidates:
                value = parsing.parse_card_last4(candidate)
                if value:
                    return {identity.CARD_LAST4: value}
        elif requested is None:
            # The opening message may name the card: "尾号8801的卡丢了".
            value = next(iter(entity_values(tracker, "card_last4")), None) or \
                parse_card_unasked(text, Context(tracker))
            if value and re.fullmatch(r"\d{4}", value):
                return {identity.CARD_LAST4: value}
        return {}

    def extract_id_last6(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """ID last-6 (last character may be X) while identity is being asked."""
        if (identity.is_verified(tracker) or not self._may_extract(tracker)
                or tracker.get_slot(REQUESTED_SLOT) not in identity.IDENTITY_SLOTS):
            return {}
        for candidate in entity_values(tracker, "id_last6") + [message_text(tracker)]:
            value = parsing.parse_id_last6(candidate)
            if value:
                return {identity.ID_LAST6: value}
        return {}

    def validate_card_last4(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Four digits; checked together with the ID digits once both are known."""
        if value is None:
            return {identity.CARD_LAST4: None}
        if identity.is_verified(tracker):
            return {identity.CARD_LAST4: value}
        if not re.fullmatch(r"\d{4}", str(value or "")):
            dispatcher.utter_message(text=hint(identity.CARD_LAST4, language_of(tracker)))
            return {identity.CARD_LAST4: None}
        id_last6 = tracker.get_slot(identity.ID_LAST6)
        if id_last6 and identity.ID_LAST6 not in tracker.slots_to_validate():
            return self._verify(dispatcher, tracker, str(value), str(id_last6))
        return {identity.CARD_LAST4: value}

    def validate_id_last6(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Six characters; with the card digits known, run the check."""
        if value is None or identity.is_verified(tracker):
            return {identity.ID_LAST6: None}
        if not re.fullmatch(r"\d{5}[\dX]", str(value or "").upper()):
            dispatcher.utter_message(text=hint(identity.ID_LAST6, language_of(tracker)))
            return {identity.ID_LAST6: None}
        card_last4 = tracker.get_slot(identity.CARD_LAST4)
        if not card_last4:
            return {identity.ID_LAST6: str(value).upper()}
        return self._verify(dispatcher, tracker, str(card_last4), str(value).upper())

    def _verify(self, dispatcher: CollectingDispatcher, tracker: Tracker, card_last4: str,
                id_last6: str) -> dict[str, Any]:
        updates = identity.verify(dispatcher, tracker, card_last4, id_last6)
        if not updates.get(identity.VERIFIED):
            return updates
        # Values given before the check could only be checked for form; now check them fully.
        tracker.slots.update(updates)
        ctx = Context(tracker)
        if self.block_reason(ctx):
            return updates
        for slot in self.flow_slots():
            value = tracker.get_slot(slot)
            if value is None or slot == CONFIRM:
                continue
            error = self.slot_error(slot, value, ctx)
            if error:
                dispatcher.utter_message(text=error)
                updates[slot] = None
        tracker.slots.update(updates)
        for slot, value in self.default_values(ctx, tracker).items():
            if tracker.get_slot(slot) is None:
                updates[slot] = value
        return updates

    def flow_slots(self) -> list[str]:
        """The slots this flow extracts itself (identity slots aside), in asking order."""
        return [s for s in FLOW_SLOTS if hasattr(self, f"extract_{s}")]

    # Flow slots ------------------------------------------------------------------------------

    def _read(self, slot: str, tracker: Tracker) -> Any:
        """The value the message gives for `slot` (asked, or unasked as a correction), or None."""
        requested = tracker.get_slot(REQUESTED_SLOT)
        if not self._may_extract(tracker) or requested in identity.IDENTITY_SLOTS:
            return None
        spec = SPECS[slot]
        asked = requested == slot
        if not asked and not spec.unasked and requested is not None:
            return None  # (the opening message of a flow may still name it)
        ctx = Context(tracker)
        value = None
        for candidate in entity_values(tracker, spec.entity):
            value = spec.parse(candidate, ctx)
            if value is not None:
                break
        if value is None:
            parse = spec.parse if asked or spec.parse_unasked is None else spec.parse_unasked
            value = parse(message_text(tracker), ctx)
        if value is None or (not asked and not spec.plausible(value)):
            return None
        return value

    def _extract(self, slot: str, tracker: Tracker) -> dict[str, Any]:
        """Slot update for `slot` when the message gives a new value for it."""
        value = self._read(slot, tracker)
        if value is None:
            return {}
        if tracker.get_slot(REQUESTED_SLOT) != slot and tracker.get_slot(slot) == value:
            return {}
        return {slot: value}

    def _validate(self, slot: str, value: Any, dispatcher: CollectingDispatcher,
                  tracker: Tracker) -> dict[str, Any]:
        """Check a new value; the account-specific part only once identity is verified."""
        if value is None:
            return {slot: None}  # a reset, e.g. by action_start_flow: nothing to check
        ctx = Context(tracker)
        if not identity.is_verified(tracker):
            error = self.slot_error(slot, value, _Anonymous(tracker))
        else:
            error = self.slot_error(slot, value, ctx)
        if error:
            dispatcher.utter_message(text=error)
            return {slot: None}
        return {slot: value}

    def _extract_yes_no(self, slot: str, tracker: Tracker) -> dict[str, Any]:
        if tracker.get_slot(REQUESTED_SLOT) != slot or not self._may_extract(tracker):
            return {}
        # "不对，改成20号" is a correction, not a "no".
        if self._has_correction(tracker):
            return {}
        answer = is_yes(tracker)
        return {} if answer is None else {slot: answer}

    def _has_correction(self, tracker: Tracker) -> bool:
        return any(self._read(slot, tracker) is not None for slot in self.flow_slots()
                   if slot in SPECS and slot != tracker.get_slot(REQUESTED_SLOT))

    def extract_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Yes or no to the summary."""
        return self._extract_yes_no(CONFIRM, tracker)

    def validate_confirm(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A yes/no needs no further check; the final action honours a no."""
        return {CONFIRM: value}


class _Anonymous(Context):
    """A context without the account, for checks made before identity is verified."""

    @cached_property
    def profile(self) -> ProfileView | None:
        """Unknown until the identity check passed."""
        return None


# --- flows with only the identity check ------------------------------------------------------


class ValidateCheckBillForm(CardFormValidation):
    """Validate the bill lookup (identity only)."""

    def name(self) -> str:
        return "validate_check_bill_form"


class ValidateRepaymentForm(CardFormValidation):
    """Validate the repayment lookup (identity only)."""

    def name(self) -> str:
        return "validate_repayment_form"


class ValidateQueryStatementDateForm(CardFormValidation):
    """Validate the statement-date lookup (identity only)."""

    def name(self) -> str:
        return "validate_query_statement_date_form"


class ValidateCheckPointsForm(CardFormValidation):
    """Validate the points lookup (identity only)."""

    def name(self) -> str:
        return "validate_check_points_form"


class ValidateCheckCreditLimitForm(CardFormValidation):
    """Validate the credit-limit lookup (identity only)."""

    def name(self) -> str:
        return "validate_check_credit_limit_form"


class ValidateAnnualFeeForm(CardFormValidation):
    """Validate the annual-fee lookup (identity only)."""

    def name(self) -> str:
        return "validate_annual_fee_form"


# --- flows that change something -------------------------------------------------------------


class ValidateChangeStatementDateForm(CardFormValidation):
    """Validate the new statement day (1-28, not today's, once per 6 months)."""

    def name(self) -> str:
        return "validate_change_statement_date_form"

    def block_reason(self, ctx: Context) -> str | None:
        assert ctx.profile is not None
        return views.statement_change_block(ctx.profile, ctx.today, ctx.lang)

    def slot_error(self, slot: str, value: Any, ctx: Context) -> str | None:
        return (views.new_statement_day_error(ctx.profile, int(value), ctx.lang)
                if slot == NEW_DAY else None)

    def extract_new_statement_day(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Day from 15号 / 每月15号 / 二十号 / 下个月5号."""
        return self._extract(NEW_DAY, tracker)

    def validate_new_statement_day(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """1-28 and different from the current day."""
        return self._validate(NEW_DAY, value, dispatcher, tracker)


class _InstallmentValidation(CardFormValidation, ABC):
    """Shared by the two instalment forms: the number of periods."""

    def extract_installment_periods(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Periods from 十二期 / 分12期 / 6个月 / a bare 12."""
        return self._extract(PERIODS, tracker)

    def validate_installment_periods(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """3, 6, 12 or 24."""
        return self._validate(PERIODS, value, dispatcher, tracker)


class ValidateInstallmentBillForm(_InstallmentValidation):
    """Validate a bill instalment: amount (>= 500, <= unpaid) and periods."""

    def name(self) -> str:
        return "validate_installment_bill_form"

    def block_reason(self, ctx: Context) -> str | None:
        assert ctx.profile is not None
        return views.bill_installment_block(ctx.profile, ctx.today, ctx.lang)

    def slot_error(self, slot: str, value: Any, ctx: Context) -> str | None:
        if slot == PERIODS:
            return views.periods_error(int(value), ctx.lang)
        if slot == AMOUNT:
            if ctx.profile is None:
                return (texts.text("bill_amount_min", ctx.lang)
                        if int(value) < rules.BILL_INSTALLMENT_MIN_FEN else None)
            return views.bill_installment_amount_error(ctx.profile, int(value), ctx.lang)
        return None

    def extract_installment_amount_fen(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Amount from 三千 / 2.5万 / ¥3,000 / 全部."""
        return self._extract(AMOUNT, tracker)

    def validate_installment_amount_fen(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Between 500 yuan and the unpaid statement amount."""
        return self._validate(AMOUNT, value, dispatcher, tracker)


class ValidateInstallmentSingleForm(_InstallmentValidation):
    """Validate a single-purchase instalment: which purchase (>= 600, unbilled) and periods."""

    def name(self) -> str:
        return "validate_installment_single_form"

    def block_reason(self, ctx: Context) -> str | None:
        assert ctx.profile is not None
        return views.single_installment_block(ctx.profile, ctx.lang)

    def slot_error(self, slot: str, value: Any, ctx: Context) -> str | None:
        if slot == PERIODS:
            return views.periods_error(int(value), ctx.lang)
        if slot == TXN and ctx.profile is not None:
            ids = {t.id for t in views.single_installment_candidates(ctx.profile)}
            return None if int(value) in ids else t(ctx.lang, "err_txn_not_eligible")
        return None

    def default_values(self, ctx: Context, tracker: Tracker) -> dict[str, Any]:
        assert ctx.profile is not None
        candidates = views.single_installment_candidates(ctx.profile)
        return {TXN: candidates[0].id} if len(candidates) == 1 else {}

    def extract_installment_txn_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The purchase, by amount, merchant or "第一笔"; the only one needs no question."""
        if (tracker.get_slot(TXN) is None and identity.is_verified(tracker)
                and self._may_extract(tracker)):
            ctx = Context(tracker)
            if ctx.profile is not None and not self.block_reason(ctx):
                default = self.default_values(ctx, tracker)
                if default:
                    return default
        return self._extract(TXN, tracker)

    def validate_installment_txn_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """One of the eligible purchases."""
        return self._validate(TXN, value, dispatcher, tracker)


class ValidateRedeemPointsForm(CardFormValidation):
    """Validate a points redemption: a catalogue item the balance covers."""

    def name(self) -> str:
        return "validate_redeem_points_form"

    def block_reason(self, ctx: Context) -> str | None:
        assert ctx.profile is not None
        return views.redeem_block(ctx.profile, ctx.today, ctx.lang)

    def slot_error(self, slot: str, value: Any, ctx: Context) -> str | None:
        if slot != ITEM or ctx.profile is None:
            return None
        item = next(i for i in rules.CATALOGUE if i.code == value)
        return views.redeem_item_error(ctx.profile, item, ctx.today, ctx.lang)

    def extract_points_item_code(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Item from 里程 / 话费 / 加油卡 ... (entity or words)."""
        return self._extract(ITEM, tracker)

    def validate_points_item_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Affordable with the current balance."""
        return self._validate(ITEM, value, dispatcher, tracker)


class ValidateApplyTempLimitForm(CardFormValidation):
    """Validate a temporary-limit application: 1,000 to the pre-approved maximum, in hundreds."""

    def name(self) -> str:
        return "validate_apply_temp_limit_form"

    def block_reason(self, ctx: Context) -> str | None:
        assert ctx.profile is not None
        return views.temp_limit_block(ctx.profile, ctx.today, ctx.lang)

    def slot_error(self, slot: str, value: Any, ctx: Context) -> str | None:
        if slot != TEMP_AMOUNT:
            return None
        if ctx.profile is None:
            return (texts.text("temp_amount_min", ctx.lang)
                    if int(value) < rules.TEMP_LIMIT_MIN_FEN else None)
        return views.temp_limit_amount_error(ctx.profile, int(value), ctx.lang)

    def extract_temp_limit_fen(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Amount from 五千 / 2万 / ¥3,000."""
        return self._extract(TEMP_AMOUNT, tracker)

    def validate_temp_limit_fen(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Within the pre-approved room."""
        return self._validate(TEMP_AMOUNT, value, dispatcher, tracker)


class _CardValidation(CardFormValidation, ABC):
    """Shared by the flows about one card: which card, defaulting to the obvious one."""

    purpose: str = ""

    def candidates(self, profile: ProfileView) -> list[views.CardView]:
        """Cards this flow can act on."""
        return {"lost": views.lost_candidates, "freeze": views.freeze_candidates,
                "activate": views.activation_candidates}[self.purpose](profile)

    def block_reason(self, ctx: Context) -> str | None:
        assert ctx.profile is not None
        return (None if self.candidates(ctx.profile)
                else views.no_card_message(self.purpose, ctx.lang))

    def slot_error(self, slot: str, value: Any, ctx: Context) -> str | None:
        if slot == TARGET_CARD and ctx.profile is not None:
            return views.card_error(ctx.profile, str(value), self.purpose, ctx.lang)
        return None

    def default_values(self, ctx: Context, tracker: Tracker) -> dict[str, Any]:
        assert ctx.profile is not None
        candidates = [c.last4 for c in self.candidates(ctx.profile)]
        verified_card = tracker.get_slot(identity.CARD_LAST4)
        if self.purpose != "activate" and verified_card in candidates:
            return {TARGET_CARD: verified_card}
        return {TARGET_CARD: candidates[0]} if len(candidates) == 1 else {}

    def extract_target_card_last4(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The card: named by its last four digits, or the obvious one."""
        found = self._extract(TARGET_CARD, tracker)
        if found:
            return found
        if (tracker.get_slot(TARGET_CARD) is None and identity.is_verified(tracker)
                and self._may_extract(tracker)):
            ctx = Context(tracker)
            if ctx.profile is not None and not self.block_reason(ctx):
                return self.default_values(ctx, tracker)
        return {}

    def validate_target_card_last4(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """One of the cardholder's cards in a suitable state."""
        return self._validate(TARGET_CARD, value, dispatcher, tracker)


class ValidateReportLostCardForm(_CardValidation):
    """Validate a loss report: the card, whether to reissue, confirmation."""

    purpose = "lost"

    def name(self) -> str:
        return "validate_report_lost_card_form"

    def extract_reissue_card(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Yes or no to a replacement card."""
        return self._extract_yes_no(REISSUE, tracker)

    def validate_reissue_card(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Either answer is fine."""
        return {REISSUE: value}


class ValidateFreezeCardForm(_CardValidation):
    """Validate a card freeze: the card and confirmation."""

    purpose = "freeze"

    def name(self) -> str:
        return "validate_freeze_card_form"


class ValidateActivateCardForm(_CardValidation):
    """Validate an activation: the new card and confirmation."""

    purpose = "activate"

    def name(self) -> str:
        return "validate_activate_card_form"


# --- questions ----------------------------------------------------------------------------------


def active_form(tracker: Tracker) -> str:
    """Name of the running form."""
    return str((tracker.active_loop or {}).get("name") or "")


class _AskAction(Action, ABC):
    """A question whose wording depends on the account."""

    @abstractmethod
    def name(self) -> str:
        """action_ask_<slot>."""

    @abstractmethod
    def question(self, tracker: Tracker, ctx: Context) -> tuple[str, list[dict[str, str]]]:
        """Text and buttons."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        ctx = Context(tracker)
        text, buttons = self.question(tracker, ctx)
        if buttons:
            dispatcher.utter_message(text=text, buttons=buttons)
        else:
            dispatcher.utter_message(text=text)
        slot = self.name().removeprefix("action_ask_")
        send_meta(dispatcher, FORM, form=active_form(tracker), slot=slot)
        return []


class ActionAskNewStatementDay(_AskAction):
    """Ask for the new statement day, showing the current one."""

    def name(self) -> str:
        return "action_ask_new_statement_day"

    def question(self, tracker: Tracker, ctx: Context) -> tuple[str, list[dict[str, str]]]:
        assert ctx.profile is not None
        day = ctx.profile.statement_day
        return t(ctx.lang, "ask_new_day", day=day, day_en=texts.ordinal(day)), []


def quote_lines(principal_fen: int, lang: str = "zh") -> list[str]:
    """One line per number of periods: fee per period and first payment."""
    lines = []
    for periods in rules.INSTALLMENT_RATES_BP:
        q = rules.quote_installment(principal_fen, periods)
        lines.append(t(lang, "quote_line", periods=periods,
                       fee=parsing.fen_to_yuan(q.fee_per_period_fen), rate=q.rate_text,
                       principal=parsing.fen_to_yuan(q.principal_per_period_fen),
                       total=parsing.fen_to_yuan(q.total_fee_fen)))
    return lines


def period_buttons(lang: str) -> list[dict[str, str]]:
    """One button per number of periods (the payload is the Chinese entity value NLU reads)."""
    return [{"title": t(lang, "btn_periods", n=n), "payload": f'/inform{{"period":"{n}期"}}'}
            for n in rules.INSTALLMENT_RATES_BP]



def installment_principal(tracker: Tracker, ctx: Context) -> int | None:
    """Principal of the instalment being set up (bill amount or the chosen purchase)."""
    if active_form(tracker) == "installment_single_form":
        txn_id = tracker.get_slot(TXN)
        if ctx.profile is None or txn_id is None:
            return None
        txn = next((t for t in ctx.profile.unbilled if t.id == int(txn_id)), None)
        return txn.amount_fen if txn else None
    amount = tracker.get_slot(AMOUNT)
    return int(amount) if amount is not None else None


class ActionAskInstallmentAmountFen(_AskAction):
    """Ask how much of the statement to put into instalments."""

    def name(self) -> str:
        return "action_ask_installment_amount_fen"

    def question(self, tracker: Tracker, ctx: Context) -> tuple[str, list[dict[str, str]]]:
        assert ctx.profile is not None and ctx.profile.latest_statement is not None
        stmt = ctx.profile.latest_statement
        top = parsing.fen_to_yuan(stmt.remaining_fen)
        text = t(ctx.lang, "ask_amount", date=texts.fmt_date(stmt.statement_date, ctx.lang),
                 top=top)
        buttons = [{"title": t(ctx.lang, "btn_all_installment", top=top),
                    "payload": f'/inform{{"amount":"{top}元"}}'}]
        return text, buttons


class ActionAskInstallmentTxnId(_AskAction):
    """Ask which purchase to put into instalments."""

    def name(self) -> str:
        return "action_ask_installment_txn_id"

    def question(self, tracker: Tracker, ctx: Context) -> tuple[str, list[dict[str, str]]]:
        assert ctx.profile is not None
        candidates = views.single_installment_candidates(ctx.profile)
        buttons = [{"title": txn.label_in(ctx.lang),
                    "payload": f'/inform{{"amount":"{parsing.fen_to_yuan(txn.amount_fen)}元"}}'}
                   for txn in candidates]
        return t(ctx.lang, "ask_txn"), buttons


class ActionAskInstallmentPeriods(_AskAction):
    """Ask for the number of periods, with the fee of each option."""

    def name(self) -> str:
        return "action_ask_installment_periods"

    def question(self, tracker: Tracker, ctx: Context) -> tuple[str, list[dict[str, str]]]:
        principal = installment_principal(tracker, ctx)
        buttons = period_buttons(ctx.lang)
        if principal is None:
            return hint(PERIODS, ctx.lang), buttons
        head = t(ctx.lang, "ask_periods_head", amount=parsing.fen_to_yuan(principal))
        return "\n".join([head, *quote_lines(principal, ctx.lang),
                          t(ctx.lang, "ask_periods_tail")]), buttons


class ActionAskPointsItemCode(_AskAction):
    """Ask which catalogue item to redeem, showing the balance."""

    def name(self) -> str:
        return "action_ask_points_item_code"

    def question(self, tracker: Tracker, ctx: Context) -> tuple[str, list[dict[str, str]]]:
        assert ctx.profile is not None
        balance = ctx.profile.points_balance(ctx.today)
        # The payload keeps the Chinese name: it is the entity value the parser reads.
        buttons = [{"title": t(ctx.lang, "btn_item", name=texts.item_name(i, ctx.lang),
                               points=i.points),
                    "payload": f'/inform{{"points_item":"{i.name}"}}'}
                   for i in rules.CATALOGUE if i.points <= balance]
        return t(ctx.lang, "ask_item", balance=balance), buttons


class ActionAskTempLimitFen(_AskAction):
    """Ask how much temporary limit to apply for."""

    def name(self) -> str:
        return "action_ask_temp_limit_fen"

    def question(self, tracker: Tracker, ctx: Context) -> tuple[str, list[dict[str, str]]]:
        assert ctx.profile is not None
        return t(ctx.lang, "ask_temp", limit=parsing.fen_to_yuan(ctx.profile.credit_limit_fen),
                 top=parsing.fen_to_yuan(ctx.profile.temp_limit_max_fen)), []


class ActionAskTargetCardLast4(_AskAction):
    """Ask which card the flow is about."""

    def name(self) -> str:
        return "action_ask_target_card_last4"

    def question(self, tracker: Tracker, ctx: Context) -> tuple[str, list[dict[str, str]]]:
        assert ctx.profile is not None
        purpose = {"report_lost_card_form": "lost", "freeze_card_form": "freeze"}.get(
            active_form(tracker), "activate")
        cards = {"lost": views.lost_candidates, "freeze": views.freeze_candidates,
                 "activate": views.activation_candidates}[purpose](ctx.profile)
        buttons = [{"title": c.label_in(ctx.lang),
                    "payload": f'/inform{{"card_last4":"{c.last4}"}}'}
                   for c in cards]
        return t(ctx.lang, "ask_card"), buttons


class ActionAskReissueCard(_AskAction):
    """Ask whether to send a replacement card, with its fee."""

    def name(self) -> str:
        return "action_ask_reissue_card"

    def question(self, tracker: Tracker, ctx: Context) -> tuple[str, list[dict[str, str]]]:
        assert ctx.profile is not None
        card = ctx.profile.card(tracker.get_slot(TARGET_CARD))
        fee = views.reissue_fee_fen(card) if card else rules.REISSUE_FEE_FEN[ctx.profile.tier]
        fee_text = (t(ctx.lang, "reissue_fee", fee=parsing.fen_to_yuan(fee)) if fee
                    else t(ctx.lang, "reissue_free"))
        return (t(ctx.lang, "ask_reissue", fee=fee_text),
                [{"title": t(ctx.lang, "btn_reissue_yes"), "payload": "/affirm"},
                 {"title": t(ctx.lang, "btn_reissue_no"), "payload": "/deny"}])


class ActionAskConfirm(_AskAction):
    """Show what is about to change and ask for a yes."""

    def name(self) -> str:
        return "action_ask_confirm"

    def question(self, tracker: Tracker, ctx: Context) -> tuple[str, list[dict[str, str]]]:
        return confirm_summary(tracker, ctx), confirm_buttons(ctx.lang)


def confirm_summary(tracker: Tracker, ctx: Context) -> str:
    """The confirmation question of the running flow."""
    profile, today, form, lang = ctx.profile, ctx.today, active_form(tracker), ctx.lang
    assert profile is not None
    yuan = parsing.fen_to_yuan
    if form == "change_statement_date_form":
        new_day = int(tracker.get_slot(NEW_DAY))
        closing, first_new = rules.first_statement_on_new_day(profile.statement_day, new_day,
                                                              today)
        return t(lang, "confirm_day", old=profile.statement_day, new=new_day,
                 old_en=texts.ordinal(profile.statement_day), new_en=texts.ordinal(new_day),
                 closing=texts.fmt_date(closing, lang), first=texts.fmt_date(first_new, lang))
    if form in ("installment_bill_form", "installment_single_form"):
        principal = installment_principal(tracker, ctx) or 0
        q = rules.quote_installment(principal, int(tracker.get_slot(PERIODS)))
        if form == "installment_bill_form":
            stmt = profile.latest_statement
            assert stmt is not None
            what = t(lang, "confirm_what_bill", date=texts.fmt_date(stmt.statement_date, lang),
                     amount=yuan(principal))
        else:
            txn = next(x for x in profile.unbilled if x.id == int(tracker.get_slot(TXN)))
            what = t(lang, "confirm_what_txn", label=txn.label_in(lang))
        return t(lang, "confirm_installment", what=what, periods=q.periods,
                 fee=yuan(q.fee_per_period_fen), rate=q.rate_text, total=yuan(q.total_fee_fen),
                 first=yuan(q.first_payment_fen), first_principal=yuan(q.first_principal_fen),
                 principal=yuan(q.principal_per_period_fen))
    if form == "redeem_points_form":
        item = next(i for i in rules.CATALOGUE if i.code == tracker.get_slot(ITEM))
        left = profile.points_balance(today) - item.points
        return t(lang, "confirm_redeem", points=item.points, item=texts.item_name(item, lang),
                 left=left)
    if form == "apply_temp_limit_form":
        amount = int(tracker.get_slot(TEMP_AMOUNT))
        end = rules.temp_limit_end(today)
        available = profile.available_fen(today) + amount
        return t(lang, "confirm_temp", amount=yuan(amount),
                 end=texts.fmt_date(end, lang, True), available=yuan(available))
    card = profile.card(tracker.get_slot(TARGET_CARD))
    label = (card.label_in(lang) if card
             else t(lang, "card_fallback_label", last4=tracker.get_slot(TARGET_CARD)))
    if form == "report_lost_card_form":
        if tracker.get_slot(REISSUE):
            fee = views.reissue_fee_fen(card) if card else 0
            fee_text = (t(lang, "lost_fee", fee=yuan(fee)) if fee
                        else t(lang, "lost_fee_free"))
            reissue = t(lang, "lost_reissue", fee=fee_text)
        else:
            reissue = t(lang, "lost_no_reissue")
        return t(lang, "confirm_lost", label=label, reissue=reissue)
    if form == "freeze_card_form":
        return t(lang, "confirm_freeze", label=label)
    if form == "activate_card_form":
        return t(lang, "confirm_activate", label=label)
    return hint(CONFIRM, lang)
