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
from actions.meta import ANSWERED, FALLBACK, send_meta
from actions.parsing import fen_to_yuan as yuan
from cards import rules, views
from cards.views import CardServiceError, ProfileView

REPAYMENT_WAYS = (
    "还款方式：\n"
    "1. 本行信用卡App绑定本行或他行借记卡还款，免费、实时到账；\n"
    "2. 开通自动还款（绑定本行借记卡，可选全额或最低还款），到期还款日当天扣款；\n"
    "3. 本行网点柜台或ATM还款；\n"
    "4. 云闪付、支付宝、微信等他行渠道还款，以对方规则为准，建议提前1–2个工作日操作。"
)


def reset_events() -> list[EventType]:
    """Forget the finished flow's answers (the identity check stays for the conversation)."""
    return [SlotSet(slot, None) for slot in FLOW_SLOTS] + [SlotSet(REQUESTED_SLOT, None)]


def human_offer(dispatcher: CollectingDispatcher, text: str) -> None:
    """A message with the button that hands the conversation to a person."""
    dispatcher.utter_message(text=text, buttons=[identity.HUMAN_BUTTON])


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
            human_offer(dispatcher, identity.LOCKED_TEXT)
            send_meta(dispatcher, FALLBACK, reason="identity_locked", offer_human=True)
            return reset_events()
        profile = identity.profile_of(tracker)
        if profile is None:
            # A visitor who is not logged in ("这个月账单在哪看") still gets the how-to from the KB,
            # then a pointer to where the personal lookup works.
            answered = await retrieval.answer_if_known(dispatcher, tracker,
                                                       reason="no_card_account")
            if answered is not None:
                dispatcher.utter_message(text=identity.LOGIN_HINT_TEXT)
                return [*reset_events(), *answered]
            human_offer(dispatcher, identity.NO_PROFILE_TEXT)
            send_meta(dispatcher, FALLBACK, reason="no_card_account", offer_human=True)
            return reset_events()
        if not identity.is_verified(tracker,
                                    change=self.form_name() in identity.CHANGE_FORMS):
            # A rule ran this action outside its form, or the check expired: never reveal data.
            dispatcher.utter_message(text="为保障账户安全，办理前需要先核验身份，请重新发起业务办理。")
            send_meta(dispatcher, ANSWERED, reason="identity_required")
            return reset_events()
        blocked = self.blocked(tracker, profile)
        if blocked:
            dispatcher.utter_message(text=blocked)
            send_meta(dispatcher, ANSWERED, flow=self.name(), done=False, reason="not_eligible")
            return reset_events()
        if self.needs_confirmation and tracker.get_slot(CONFIRM) is not True:
            title = FLOW_BY_FORM.get(self.form_name(), None)
            what = title.title if title else "本次业务"
            dispatcher.utter_message(text=f"好的，已取消{what}办理，没有做任何修改。还有什么可以帮您？")
            send_meta(dispatcher, ANSWERED, flow=self.name(), done=False, reason="declined")
            return reset_events()
        try:
            self.perform(dispatcher, tracker, profile)
        except CardServiceError as exc:
            dispatcher.utter_message(text=f"抱歉，未能办理：{exc.message}")
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
        today = get_client().today()
        stmt = profile.latest_statement
        if stmt is None:
            dispatcher.utter_message(text="您目前还没有已出的账单。")
            return
        days = (stmt.due_date - today).days
        when = (f"还有{days}天" if days > 0 else "就是今天" if days == 0
                else f"已过{-days}天")
        lines = [f"您{rules.fmt_date(stmt.statement_date)}出账的账单：",
                 f"· 本期应还：{yuan(stmt.total_fen)}元"]
        if stmt.installed_fen:
            lines.append(f"· 已办理账单分期：{yuan(stmt.installed_fen)}元")
        if stmt.paid_fen:
            lines.append(f"· 已还：{yuan(stmt.paid_fen)}元")
        if stmt.remaining_fen:
            lines += [f"· 剩余应还：{yuan(stmt.remaining_fen)}元",
                      f"· 最低还款额：{yuan(stmt.min_remaining_fen)}元",
                      f"· 到期还款日：{rules.fmt_date(stmt.due_date)}（{when}）"]
        else:
            lines.append("· 本期账单已还清，感谢您按时还款！")
        recent = get_client().recent_transactions(profile.user_id, limit=5)
        if recent:
            lines.append("最近交易：")
            lines += [f"· {rules.fmt_date(t.posted_on)} {t.merchant} {yuan(t.amount_fen)}元"
                      + ("（未出账）" if not t.billed else "") for t in recent]
        dispatcher.utter_message(text="\n".join(lines))


class ActionRepaymentInfo(CardServiceAction):
    """Say how much to repay, by when, and the ways to pay."""

    def name(self) -> str:
        return "action_repayment_info"

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        stmt = profile.latest_statement
        if stmt is None or not stmt.remaining_fen:
            head = "您当前没有待还的账单金额。"
        else:
            head = (f"您{rules.fmt_date(stmt.statement_date)}账单还需还款"
                    f"{yuan(stmt.remaining_fen)}元，"
                    f"最低还款额{yuan(stmt.min_remaining_fen)}元，请在{rules.fmt_date(stmt.due_date)}"
                    "（到期还款日）前还款。全额还款可享免息；只还最低还款额不算逾期，但需支付利息。")
        dispatcher.utter_message(text=f"{head}\n{REPAYMENT_WAYS}")


class ActionQueryStatementDate(CardServiceAction):
    """Say the statement day and the next statement and due dates."""

    def name(self) -> str:
        return "action_query_statement_date"

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        today = get_client().today()
        next_stmt = profile.next_statement_date(today)
        due = rules.fmt_date(rules.due_date_for(next_stmt))
        if profile.old_day_closes_on and profile.old_day_closes_on >= today:
            text = (f"您的账单日已改为每月{profile.statement_day}号（从下一个账单周期起生效）："
                    f"本期账单仍于{rules.fmt_date(next_stmt)}按原账单日出具，到期还款日{due}；"
                    f"之后每月{profile.statement_day}号出账单，到期还款日为账单日后第25天。")
        else:
            text = (f"您的账单日是每月{profile.statement_day}号，到期还款日为账单日后第25天。"
                    f"下一个账单日是{rules.fmt_date(next_stmt)}，对应的到期还款日是{due}。")
        dispatcher.utter_message(text=text)


class ActionCheckPoints(CardServiceAction):
    """Show the points balance and what expires soon."""

    def name(self) -> str:
        return "action_check_points"

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        today = get_client().today()
        balance = profile.points_balance(today)
        text = f"您当前可用积分为{balance:,}分。"
        expiring, until = profile.points_expiring_this_month(today)
        if expiring and until:
            text += f"其中{expiring:,}分将于{rules.fmt_date(until)}到期，请尽快使用。"
        upcoming = [(p, e) for p, e in profile.points_lots
                    if e >= today and (e.year, e.month) != (today.year, today.month)]
        if upcoming:
            points, expires = upcoming[0]
            text += f"最近一批到期的积分：{points:,}分，{rules.fmt_date(expires, True)}到期。"
        text += "积分有效期36个月，可以在App“积分商城”兑换，也可以直接对我说“用积分兑换话费”。"
        dispatcher.utter_message(text=text)


class ActionCheckCreditLimit(CardServiceAction):
    """Show the credit, temporary, available and cash limits."""

    def name(self) -> str:
        return "action_check_credit_limit"

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        today = get_client().today()
        text = f"您的信用额度（固定额度）为{yuan(profile.credit_limit_fen)}元"
        temp = profile.active_temp_limit_fen(today)
        if temp and profile.temp_limit_end:
            text += (f"，另有临时额度{yuan(temp)}元，有效期至"
                     f"{rules.fmt_date(profile.temp_limit_end, True)}")
        text += (f"。当前可用额度{yuan(profile.available_fen(today))}元，"
                 f"取现额度{yuan(profile.credit_limit_fen // 2)}元（信用额度的50%）。"
                 "需要临时周转可以申请临时额度（有效期30天）；固定额度用卡满6个月后可在App"
                 "“额度管理”申请调整。")
        dispatcher.utter_message(text=text)


class ActionAnnualFee(CardServiceAction):
    """Show each card's annual fee and how to have it waived."""

    def name(self) -> str:
        return "action_annual_fee"

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        today = get_client().today()
        points = profile.points_balance(today)
        lines = [views.annual_fee_status(card, today, points) for card in profile.cards
                 if card.status != "lost"]
        lines.append("年费标准：普卡100元/年、金卡300元/年、白金卡3,600元/年，均首年免年费；"
                     "普卡年内刷卡满5次、金卡满10次免次年年费，白金卡可用20万积分抵扣。")
        dispatcher.utter_message(text="\n".join(lines))


# --- changes ------------------------------------------------------------------------------------


class ActionChangeStatementDate(CardServiceAction):
    """Change the statement day after the cardholder confirmed it."""

    needs_confirmation = True

    def name(self) -> str:
        return "action_change_statement_date"

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        return views.statement_change_block(profile, get_client().today())

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        done = get_client().change_statement_day(self.user_id(tracker),
                                                 int(tracker.get_slot(NEW_DAY)))
        dispatcher.utter_message(
            text=f"账单日已改为每月{done.new_day}日，将从下一个账单周期（{done.first_new_date.month}月）"
                 f"起生效：{rules.fmt_date(done.closing_date)}的账单仍按原账单日出具，"
                 f"首个新账单日为{rules.fmt_date(done.first_new_date)}，到期还款日为账单日后第25天。"
        )


class ActionInstallmentBill(CardServiceAction):
    """Put the confirmed part of the statement into instalments."""

    needs_confirmation = True

    def name(self) -> str:
        return "action_installment_bill"

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        return views.bill_installment_block(profile, get_client().today())

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        client = get_client()
        user_id = self.user_id(tracker)
        done = client.create_bill_installment(user_id, int(tracker.get_slot(AMOUNT)),
                                              int(tracker.get_slot(PERIODS)))
        q = done.quote
        after = client.profile(user_id)
        stmt = after.latest_statement if after else None
        rest = (f"本期账单剩余应还{yuan(stmt.remaining_fen)}元，最低还款额"
                f"{yuan(stmt.min_remaining_fen)}元，请在{rules.fmt_date(stmt.due_date)}前还款。"
                if stmt and stmt.remaining_fen else "本期账单已无剩余应还金额。")
        dispatcher.utter_message(
            text=f"账单分期办理成功：{done.description}分{q.periods}期，每期手续费"
                 f"{yuan(q.fee_per_period_fen)}元，首期应还{yuan(q.first_payment_fen)}元，"
                 f"将计入下期账单。{rest}"
        )


class ActionInstallmentSingle(CardServiceAction):
    """Put the confirmed purchase into instalments."""

    needs_confirmation = True

    def name(self) -> str:
        return "action_installment_single"

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        return views.single_installment_block(profile)

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        done = get_client().create_single_installment(
            self.user_id(tracker), int(tracker.get_slot(TXN)), int(tracker.get_slot(PERIODS)))
        q = done.quote
        dispatcher.utter_message(
            text=f"单笔分期办理成功：{done.description}分{q.periods}期，每期手续费"
                 f"{yuan(q.fee_per_period_fen)}元，首期应还{yuan(q.first_payment_fen)}元"
                 f"（本金{yuan(q.first_principal_fen)}元+手续费），将计入本期账单。"
        )


class ActionRedeemPoints(CardServiceAction):
    """Redeem the confirmed catalogue item."""

    needs_confirmation = True

    def name(self) -> str:
        return "action_redeem_points"

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        return views.redeem_block(profile, get_client().today())

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        done = get_client().redeem_points(self.user_id(tracker), str(tracker.get_slot(ITEM)))
        dispatcher.utter_message(
            text=f"兑换成功！已使用{done.item.points:,}积分兑换{done.item.name}，剩余积分"
                 f"{done.points_left:,}分。权益将在3个工作日内发放，可在App“积分商城-我的订单”查看。"
        )


class ActionApplyTempLimit(CardServiceAction):
    """Grant the confirmed temporary limit."""

    needs_confirmation = True

    def name(self) -> str:
        return "action_apply_temp_limit"

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        return views.temp_limit_block(profile, get_client().today())

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        done = get_client().apply_temp_limit(self.user_id(tracker),
                                             int(tracker.get_slot(TEMP_AMOUNT)))
        dispatcher.utter_message(
            text=f"临时额度已生效：提升{yuan(done.amount_fen)}元，有效期至"
                 f"{rules.fmt_date(done.end, True)}，当前可用额度{yuan(done.available_fen)}元。"
                 "临时额度部分请在账单中全额还清。"
        )


class ActionReportLostCard(CardServiceAction):
    """Report the confirmed card lost (at once) and order a replacement if wanted."""

    needs_confirmation = True

    def name(self) -> str:
        return "action_report_lost_card"

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        return None if views.lost_candidates(profile) else views.no_card_message("lost")

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        done = get_client().report_lost(self.user_id(tracker), str(tracker.get_slot(TARGET_CARD)),
                                        bool(tracker.get_slot(REISSUE)))
        label = f"尾号{done.last4}的{rules.TIER_NAMES[done.tier]}"
        text = f"已为您挂失{label}，原卡已立即失效，无法再使用。"
        if done.new_last4:
            fee = (f"补卡工本费{yuan(done.fee_fen)}元将计入账单" if done.fee_fen
                   else "白金卡补卡免工本费")
            text += (f"新卡（尾号{done.new_last4}）将在7–10个工作日内寄达，{fee}。"
                     "收到新卡后请先激活，并及时更新绑定的自动扣款和支付账户。")
        else:
            text += "您暂未补办新卡，需要时可以随时对我说“补办信用卡”或联系人工客服。"
        text += "如发现盗刷，请立即报警并拨打客服热线400-123-4567。"
        dispatcher.utter_message(text=text)


class ActionFreezeCard(CardServiceAction):
    """Freeze the confirmed card."""

    needs_confirmation = True

    def name(self) -> str:
        return "action_freeze_card"

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        return None if views.freeze_candidates(profile) else views.no_card_message("freeze")

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        done = get_client().freeze_card(self.user_id(tracker), str(tracker.get_slot(TARGET_CARD)))
        dispatcher.utter_message(
            text=f"已冻结尾号{done.last4}的{rules.TIER_NAMES[done.tier]}，冻结期间卡片不能消费。"
                 "需要时可随时在App“卡片管理”中自助解锁；冻结期间仍需按时还款。"
        )


class ActionActivateCard(CardServiceAction):
    """Activate the confirmed card."""

    needs_confirmation = True

    def name(self) -> str:
        return "action_activate_card"

    def blocked(self, tracker: Tracker, profile: ProfileView) -> str | None:
        return (None if views.activation_candidates(profile)
                else views.no_card_message("activate"))

    def perform(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                profile: ProfileView) -> None:
        done = get_client().activate_card(self.user_id(tracker),
                                          str(tracker.get_slot(TARGET_CARD)))
        fee = rules.ANNUAL_FEE_FEN[done.tier]
        rule = (f"年内刷卡满{rules.SWIPES_TO_WAIVE[done.tier]}次可免次年年费"
                if done.tier in rules.SWIPES_TO_WAIVE else "年费可用20万积分抵扣")
        dispatcher.utter_message(
            text=f"尾号{done.last4}的{rules.TIER_NAMES[done.tier]}已激活，可以正常使用了！"
                 f"首年免年费，之后年费{yuan(fee)}元/年，{rule}。"
        )


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
        what = flow.title if flow else "当前业务"
        dispatcher.utter_message(text=f"好的，已取消{what}办理，没有做任何修改。还有什么可以帮您？")
        send_meta(dispatcher, ANSWERED, flow=flow.submit if flow else None, done=False,
                  reason="cancelled")
        return [ActiveLoop(None), *reset_events()]

