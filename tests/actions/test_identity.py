"""The identity check in front of every card flow: nothing before it, lock after 3 misses."""

from __future__ import annotations

from actions import kb_client
from tests.actions.conftest import ents


def test_nothing_sensitive_before_identity(driver) -> None:
    d = driver("demo-gold-001")
    turn = d.say("查一下我的账单", "check_bill")
    assert turn.actions[-1] == "utter_ask_card_last4"
    assert turn.outcome == "form"
    assert "12,680" not in turn.texts and "元" not in turn.texts
    assert d.slots["requested_slot"] == "card_last4"


def test_verified_bill_shows_amounts_and_transactions(driver) -> None:
    d = driver("demo-gold-001")
    d.say("查一下我的账单", "check_bill")
    d.say("尾号8801", "inform", ents(card_last4="8801"))
    turn = d.say("520133", "inform", ents(id_last6="520133"))
    assert "身份核验通过" in turn.texts
    assert turn.actions[-1] == "action_check_bill"
    assert "12,680.00" in turn.texts  # amount due
    assert "1,268.00" in turn.texts  # minimum payment
    assert "11月22日" in turn.texts  # due date
    assert "宜家家居" in turn.texts  # a recent transaction
    assert turn.outcome == "answered"
    assert d.slots["identity_verified"] is True
    assert d.slots["id_last6"] is None  # the ID digits are not kept in the tracker


def test_card_and_id_in_one_message(driver) -> None:
    d = driver("demo-platinum-001")
    d.say("我的额度是多少", "check_credit_limit")
    turn = d.say("6601 31002x", "inform")
    assert turn.actions[-1] == "action_check_credit_limit"
    assert "200,000.00" in turn.texts and "50,000.00" in turn.texts


def test_stays_verified_for_the_conversation(driver) -> None:
    d = driver("demo-gold-001")
    d.say("积分有多少", "check_points")
    d.say("8801", "inform", ents(amount="8801"))
    d.say("520133", "inform")
    turn = d.say("我的额度呢", "check_credit_limit")
    assert "utter_ask_card_last4" not in turn.actions
    assert turn.actions[-1] == "action_check_credit_limit"


def test_three_wrong_answers_lock_and_offer_a_human(driver) -> None:
    d = driver("demo-gold-001")
    d.say("帮我查账单", "check_bill")
    for attempt in (1, 2):
        d.say("8801", "inform")
        turn = d.say("999999", "inform")
        assert f"还有{3 - attempt}次机会" in turn.texts
        assert turn.actions[-1] == "utter_ask_card_last4"
        assert d.slots["identity_attempts"] == attempt
    d.say("8801", "inform")
    turn = d.say("999999", "inform")
    assert d.slots["identity_locked"] is True
    assert d.slots["identity_verified"] is not True
    assert turn.actions[-1] == "action_check_bill"
    assert "12,680" not in turn.texts
    assert {"title": "转人工客服", "payload": "/request_human"} in turn.buttons
    assert turn.outcome == "fallback"
    # Locked for the rest of the conversation: even the right answers are not asked for.
    turn = d.say("我要改账单日", "change_statement_date")
    assert "utter_ask_card_last4" not in turn.actions
    assert "暂停办理自助业务" in turn.texts


def test_wrong_card_of_someone_else_is_a_miss(driver) -> None:
    d = driver("demo-gold-001")
    d.say("帮我查账单", "check_bill")
    d.say("6601", "inform")  # the platinum cardholder's card
    turn = d.say("31002X", "inform")
    assert "还有2次机会" in turn.texts


def test_unknown_channel_user_gets_no_data_and_a_human(driver, monkeypatch) -> None:
    async def kb_down(*args, **kwargs):
        raise kb_client.KBUnavailable("not running in this test")

    # With the KB reachable the visitor gets its how-to first (tests/actions/test_retrieval.py).
    monkeypatch.setattr(kb_client, "search", kb_down)
    d = driver("web-visitor-42")
    turn = d.say("查账单", "check_bill")
    assert "utter_ask_card_last4" not in turn.actions
    assert "没有查询到与您当前登录账号关联的信用卡" in turn.texts
    assert {"title": "转人工客服", "payload": "/request_human"} in turn.buttons


def test_badly_formed_card_digits_are_asked_again(driver) -> None:
    d = driver("demo-gold-001")
    d.say("帮我查账单", "check_bill")
    turn = d.say("不记得了，大概是88", "inform")
    assert "请输入4位数字的卡号后四位" in turn.texts
    assert d.slots["requested_slot"] == "card_last4"
    assert d.slots["identity_attempts"] == 0


def new_session(d) -> None:
    """What Rasa does after an hour of silence: a new session that carries the slots over."""
    carried = [{"event": "slot", "name": k, "value": v} for k, v in d.slots.items()
               if v is not None]
    d.events += [{"event": "action", "name": "action_session_start"},
                 {"event": "session_started"}, *carried,
                 {"event": "action", "name": "action_listen"}]


def test_verification_lasts_one_session(driver) -> None:
    d = driver("demo-gold-001")
    d.say("积分有多少", "check_points")
    d.say("8801", "inform")
    d.say("520133", "inform")
    assert d.say("我的额度呢", "check_credit_limit").actions[-1] == "action_check_credit_limit"
    new_session(d)
    assert d.slots["identity_verified"] is True  # carried over, but not trusted
    turn = d.say("我的额度呢", "check_credit_limit")
    assert turn.actions[-1] == "utter_ask_card_last4"
    assert "50,000" not in turn.texts


def test_lock_lasts_one_session(driver) -> None:
    d = driver("demo-gold-001")
    d.say("帮我查账单", "check_bill")
    for _ in range(3):
        d.say("8801", "inform")
        d.say("000000", "inform")
    assert "暂停办理自助业务" in d.say("查账单", "check_bill").texts
    new_session(d)
    d.say("查账单", "check_bill")
    d.say("8801", "inform")
    turn = d.say("000000", "inform")
    assert "还有2次机会" in turn.texts  # a fresh count in the new session
