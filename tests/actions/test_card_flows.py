"""Each self-service flow through the real actions and a real (temporary) card store."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from rasa_sdk.executor import CollectingDispatcher

from tests.actions.conftest import TODAY, Driver, ents, executor

IDS = {
    "demo-standard-001": ("3001", "110011"),
    "demo-gold-001": ("8801", "520133"),
    "demo-platinum-001": ("6601", "31002X"),
    "demo-gold-002": ("7702", "440305"),
    "demo-standard-002": ("4402", "210012"),
}


def verified(driver, user_id: str, text: str, intent: str, entities=None) -> tuple[Driver, str]:
    """Start a flow and pass the identity check; returns the driver and the last reply."""
    d = driver(user_id)
    d.say(text, intent, entities)
    card, id6 = IDS[user_id]
    d.say(card, "inform")
    turn = d.say(id6, "inform")
    assert "身份核验通过" in turn.texts
    return d, turn.texts


# --- statement day ------------------------------------------------------------------------------


def test_change_statement_day_confirmed_then_queried(driver, store) -> None:
    d, reply = verified(driver, "demo-gold-001", "帮我把账单日改到15号", "change_statement_date",
                        ents(day="15号"))
    assert "将账单日由每月28日改为每月15日" in reply
    assert d.slots["requested_slot"] == "confirm"
    assert store.profile("demo-gold-001").statement_day == 28  # nothing before the yes
    turn = d.say("确认", "affirm")
    assert "账单日已改为每月15日，将从下一个账单周期（12月）起生效" in turn.texts
    assert turn.outcome == "answered"
    assert store.profile("demo-gold-001").statement_day == 15
    assert [k for k, _ in store.events("demo-gold-001")].count("statement_day_changed") == 1
    turn = d.say("我的账单日是哪天", "query_statement_date")
    assert "utter_ask_card_last4" not in turn.actions
    assert "每月15号" in turn.texts
    assert "11月28日按原账单日出具" in turn.texts


def test_correction_while_confirming(driver, store) -> None:
    d, _ = verified(driver, "demo-gold-001", "我想改账单日", "change_statement_date")
    turn = d.say("每月十五号", "inform")
    assert "改为每月15日" in turn.texts
    turn = d.say("不对，改成20号", "deny", ents(day="20号"))
    assert "改为每月20日" in turn.texts and turn.outcome == "form"
    assert d.slots["confirm"] is None
    d.say("好的", "affirm")
    assert store.profile("demo-gold-001").statement_day == 20


def test_no_at_confirmation_changes_nothing(driver, store) -> None:
    d, _ = verified(driver, "demo-gold-001", "账单日改到10号", "change_statement_date",
                    ents(day="10号"))
    turn = d.say("不用了", "deny")
    assert "已取消账单日修改办理，没有做任何修改" in turn.texts
    assert store.profile("demo-gold-001").statement_day == 28
    assert "statement_day_changed" not in [k for k, _ in store.events("demo-gold-001")]
    assert d.slots["new_statement_day"] is None and d.active is None


@pytest.mark.parametrize("text", ["30号", "三十一号"])
def test_day_outside_1_to_28_is_asked_again(driver, text) -> None:
    d, _ = verified(driver, "demo-gold-001", "改账单日", "change_statement_date")
    turn = d.say(text, "inform")
    assert "只能选择每月1日至28日" in turn.texts
    assert d.slots["requested_slot"] == "new_statement_day"


def test_same_day_given_before_identity_is_rejected_after_it(driver) -> None:
    d, reply = verified(driver, "demo-gold-001", "账单日改成28号", "change_statement_date",
                        ents(day="28号"))
    assert "已经是每月28日" in reply
    assert d.slots["requested_slot"] == "new_statement_day"


def test_six_month_rule(driver, store) -> None:
    d, reply = verified(driver, "demo-platinum-001", "账单日改到5号", "change_statement_date",
                        ents(day="5号"))
    assert "每6个月只能修改1次" in reply
    assert d.active is None
    assert store.profile("demo-platinum-001").statement_day == 10


def test_unclear_answer_gets_a_hint_not_a_fallback(driver) -> None:
    d, _ = verified(driver, "demo-gold-001", "改账单日", "change_statement_date")
    turn = d.say("嗯嗯好的", "affirm")
    assert not turn.rejected
    assert "可选每月1日至28日" in turn.texts
    assert turn.outcome == "form"


def test_faq_digression_steps_aside_and_form_resumes(driver) -> None:
    d, _ = verified(driver, "demo-gold-001", "改账单日", "change_statement_date")
    turn = d.say("账单日改了之后15号还款会不会影响征信", "faq", ents(day="15号"))
    assert turn.rejected  # the rule answers it from the KB
    assert d.slots["new_statement_day"] is None  # the question was not read as an answer
    turn = d.resume()
    assert turn.actions[-1] == "action_ask_new_statement_day"
    assert turn.outcome == "form"


def test_cancel_is_left_to_the_cancel_rule(driver, store) -> None:
    d, _ = verified(driver, "demo-gold-001", "改账单日", "change_statement_date")
    d.say("15号", "inform")
    turn = d.say("算了不办了", "cancel")
    assert turn.rejected
    cancel = Driver.run(d, "action_cancel_flow", turn)
    assert any(e["event"] == "active_loop" and e["name"] is None for e in cancel)
    assert "已取消账单日修改办理，没有做任何修改" in turn.texts
    assert store.profile("demo-gold-001").statement_day == 28


# --- instalments ---------------------------------------------------------------------------------


def test_bill_installment_with_fee_table(driver, store) -> None:
    d, reply = verified(driver, "demo-gold-001", "账单分期", "installment_bill")
    assert "可分期金额为500元至12,680.00元" in reply
    turn = d.say("五千", "inform", ents(amount="五千"))
    assert "0.80%" in turn.texts and "0.75%" in turn.texts
    assert "0.70%" in turn.texts and "0.68%" in turn.texts
    assert "每期手续费35.00元（费率0.70%/期）" in turn.texts  # 12 periods of 5,000
    turn = d.say("十二期", "inform", ents(period="十二期"))
    assert "总手续费420.00元" in turn.texts
    turn = d.say("确认", "affirm")
    assert "账单分期办理成功" in turn.texts
    stmt = store.profile("demo-gold-001").latest_statement
    assert stmt.installed_fen == 500_000
    assert stmt.remaining_fen == 1_268_000 - 500_000


def test_bill_installment_amount_rules_and_correction(driver, store) -> None:
    d, _ = verified(driver, "demo-gold-001", "账单分期", "installment_bill")
    assert "不能低于500元" in d.say("300块", "inform").texts
    assert "不能超过本期未还金额" in d.say("2万", "inform").texts
    d.say("全部", "inform")
    assert d.slots["installment_amount_fen"] == 1_268_000
    d.say("6期", "inform")
    turn = d.say("金额改成¥3,000", "inform", ents(amount="¥3,000"))
    assert "3,000.00元分6期" in turn.texts
    d.say("确认", "affirm")
    assert store.profile("demo-gold-001").latest_statement.installed_fen == 300_000


def test_bill_installment_needs_500_unpaid(driver) -> None:
    _, reply = verified(driver, "demo-standard-002", "账单分期", "installment_bill")
    assert "不低于500元" in reply


def test_single_installment_picks_the_only_purchase(driver, store) -> None:
    d, reply = verified(driver, "demo-gold-001", "把宜家那笔分期", "installment_single")
    assert d.slots["requested_slot"] == "installment_periods"
    assert "3,299.00" in reply
    turn = d.say("分24期", "inform", ents(period="24期"))
    assert "宜家家居" in turn.texts and "0.68%" in turn.texts
    turn = d.say("确认", "affirm")
    assert "单笔分期办理成功" in turn.texts
    profile = store.profile("demo-gold-001")
    assert [t.merchant for t in profile.unbilled if t.installed] == ["宜家家居"]


def test_single_installment_invalid_period(driver) -> None:
    d, _ = verified(driver, "demo-standard-001", "单笔分期", "installment_single")
    turn = d.say("5期", "inform")
    assert "3期、6期、12期或24期" in turn.texts


def test_single_installment_none_eligible(driver) -> None:
    _, reply = verified(driver, "demo-standard-002", "单笔分期", "installment_single")
    assert "没有可以办理单笔分期的消费" in reply


# --- points -----------------------------------------------------------------------------------


def test_points_balance_and_expiry(driver) -> None:
    _, reply = verified(driver, "demo-standard-002", "我有多少积分", "check_points")
    assert "8,600" in reply and "1,500分将于11月30日到期" in reply


def test_redeem_spends_soonest_expiring_points(driver, store) -> None:
    d, reply = verified(driver, "demo-gold-001", "积分兑换", "redeem_points")
    assert "58,000" in reply
    turn = d.say("换话费", "inform", ents(points_item="话费"))
    assert "使用5,000积分兑换话费充值 50 元" in turn.texts
    d.say("确认", "affirm")
    profile = store.profile("demo-gold-001")
    assert profile.points_balance(TODAY) == 53_000
    assert sorted(profile.points_lots)[0][0] == 15_000  # the earliest-expiring lot paid


def test_redeem_not_enough_points(driver) -> None:
    d, _ = verified(driver, "demo-standard-001", "积分兑换", "redeem_points")
    turn = d.say("行李箱", "inform", ents(points_item="行李箱"))
    assert "积分不足" in turn.texts
    assert d.slots["points_item_code"] is None


# --- limits ------------------------------------------------------------------------------------


def test_temp_limit_granted_for_30_days(driver, store) -> None:
    d, reply = verified(driver, "demo-gold-001", "申请临时额度", "apply_temp_limit")
    assert "最高可申请临时额度20,000.00元" in reply
    turn = d.say("五千", "inform", ents(amount="五千"))
    end = TODAY + timedelta(days=30)
    assert f"至{end.year}年{end.month}月{end.day}日" in turn.texts
    turn = d.say("确认", "affirm")
    assert "临时额度已生效" in turn.texts
    profile = store.profile("demo-gold-001")
    assert profile.temp_limit_fen == 500_000 and profile.temp_limit_end == end


def test_temp_limit_amount_rules(driver) -> None:
    d, _ = verified(driver, "demo-gold-001", "申请临时额度", "apply_temp_limit")
    assert "最高可申请20,000.00元" in d.say("3万", "inform").texts
    assert "100元的整数倍" in d.say("5050元", "inform").texts


def test_temp_limit_already_active(driver) -> None:
    _, reply = verified(driver, "demo-platinum-001", "临时额度", "apply_temp_limit")
    assert "您已有临时额度50,000.00元" in reply


def test_credit_limit_lookup(driver) -> None:
    _, reply = verified(driver, "demo-gold-001", "额度多少", "check_credit_limit")
    assert "50,000.00" in reply and "取现额度25,000.00元" in reply


# --- cards -----------------------------------------------------------------------------------


def test_report_lost_with_reissue(driver, store) -> None:
    d, reply = verified(driver, "demo-gold-001", "我的卡丢了要挂失", "report_lost_card")
    assert "工本费20.00元" in reply
    turn = d.say("需要", "affirm")
    assert "挂失尾号8801的金卡" in turn.texts
    before = store.profile("demo-gold-001").balance_fen
    turn = d.say("确认", "affirm")
    assert "原卡已立即失效" in turn.texts
    profile = store.profile("demo-gold-001")
    assert profile.card("8801").status == "lost"
    new = [c for c in profile.cards if c.status == "inactive"]
    assert len(new) == 1 and new[0].last4 in turn.texts
    assert profile.balance_fen == before + 20_00  # the 20 yuan card fee
    kinds = [k for k, _ in store.events("demo-gold-001")]
    assert kinds[-2:] == ["card_lost", "card_reissued"]


def test_platinum_reissue_is_free(driver, store) -> None:
    d, reply = verified(driver, "demo-platinum-001", "挂失", "report_lost_card")
    assert "白金卡补卡免工本费" in reply
    d.say("需要", "affirm")
    before = store.profile("demo-platinum-001").balance_fen
    d.say("确认", "affirm")
    assert store.profile("demo-platinum-001").balance_fen == before


def test_freeze_then_nothing_left_to_freeze(driver, store) -> None:
    d, reply = verified(driver, "demo-standard-001", "冻结我的卡", "freeze_card")
    assert "冻结（临时锁卡）尾号3001的普卡" in reply
    d.say("确认", "affirm")
    assert store.profile("demo-standard-001").card("3001").status == "frozen"
    turn = d.say("再冻结一次", "freeze_card")
    assert "没有状态正常、可以冻结的卡片" in turn.texts


def test_activate_the_new_card(driver, store) -> None:
    d, reply = verified(driver, "demo-gold-002", "激活新卡", "activate_card")
    assert "激活尾号7703的金卡" in reply
    turn = d.say("确认", "affirm")
    assert "已激活" in turn.texts
    card = store.profile("demo-gold-002").card("7703")
    assert card.status == "active" and card.annual_fee_next_on == date(2025, 11, 20)


def test_annual_fee_lookup(driver) -> None:
    _, reply = verified(driver, "demo-standard-001", "年费怎么减免", "annual_fee")
    assert "年费100.00元/年" in reply and "再刷2次即可免年费" in reply


def test_payment_info(driver) -> None:
    _, reply = verified(driver, "demo-gold-001", "怎么还款", "repayment")
    assert "12,680.00" in reply and "11月22日" in reply and "自动还款" in reply


def test_switching_flow_starts_clean(driver) -> None:
    d, _ = verified(driver, "demo-gold-001", "账单日改到15号", "change_statement_date",
                    ents(day="15号"))
    turn = d.say("查一下积分", "check_points")
    assert turn.rejected  # the other flow's start rule takes over
    Driver.run(d, "action_start_flow", turn)
    assert d.active is None and d.slots["new_statement_day"] is None


def test_actions_are_registered_by_name(domain) -> None:
    names = set(executor().actions)
    missing = [a for a in domain["actions"] if a.startswith(("action_", "validate_"))
               and a not in names]
    assert missing == []


def test_final_action_refuses_without_identity(domain, store) -> None:
    d = Driver(domain, "demo-gold-001")
    d.latest_message = {"text": "x", "intent": {"name": "check_bill"}, "entities": [],
                        "metadata": {"user_id": "demo-gold-001", "user_verified": True}}
    action = executor().actions["action_change_statement_date"]
    dispatcher = CollectingDispatcher()
    asyncio.run(action(dispatcher, d.tracker([{"event": "slot", "name": "new_statement_day",
                                                "value": 15},
                                               {"event": "slot", "name": "confirm",
                                                "value": True}]), domain))
    assert "需要先核验身份" in dispatcher.messages[0]["text"]
    assert store.profile("demo-gold-001").statement_day == 28


def test_single_installment_named_in_the_opening_message(driver, store) -> None:
    d, reply = verified(driver, "demo-standard-001", "把那笔1299的分6期", "installment_single",
                        ents(amount="1299", period="6期"))
    assert "京东商城" in reply and "分6期" in reply
    assert d.slots["requested_slot"] == "confirm"
    turn = d.say("3000", "inform", ents(amount="3000"))
    assert "请回复“确认”" in turn.texts  # an amount is not a new choice of purchase


def test_restart_after_an_abandoned_flow_asks_afresh(driver) -> None:
    d, _ = verified(driver, "demo-gold-001", "账单日改到15号", "change_statement_date",
                    ents(day="15号"))
    d.active = None  # left mid-way, e.g. handed over to a person (form deactivated, no reset)
    assert d.slots["new_statement_day"] == 15
    turn = d.say("我想改账单日", "change_statement_date")
    assert turn.actions[-1] == "action_ask_new_statement_day"
    assert d.slots["new_statement_day"] is None
