"""Routing that keeps questions out of canned replies and declines out of the fraud queue
(issue 14): action_act_without_context and action_handoff for fraud_dispute."""

from __future__ import annotations

from typing import Any

import pytest

from actions.declined import is_declined_payment
from tests.actions import test_retrieval
from tests.actions.conftest import Driver, Turn, user_event
from tests.actions.test_retrieval import ENTRIES, FakeKB, hit, meta

# test_retrieval's stand-in for the retrieval service, registered here under another name.
fake_service = test_retrieval.kb


@pytest.fixture()
def fake_kb(request: pytest.FixtureRequest) -> FakeKB:
    return request.getfixturevalue("fake_service")


def say(d: Driver, text: str, intent: str, action: str,
        shape: dict[str, Any] | None = None) -> Turn:
    """One message as the NLU reports it (with the guard's `message_shape`) and its action."""
    event = user_event(text, intent, None, d.user_id)
    if shape is not None:
        event["parse_data"]["message_shape"] = shape
    d.latest_message = event["parse_data"]
    d.events.append(event)
    turn = Turn()
    d.run(action, turn)
    return turn


def plain(**kw: Any) -> dict[str, Any]:
    return {"question": False, "card_terms": [], "content_chars": 2, "demoted_intent": None, **kw}


# ---------------------------------------------------------------- declined is not fraud

DECLINED = ["刷卡总是提示交易失败", "网上付款付不了", "pos机显示余额不足可我有额度", "境外刷不了",
            "淘宝付款一直失败怎么回事", "刷卡提示请联系发卡行", "大额消费被风控拦截了"]
UNAUTHORISED = ["我的卡被盗刷了", "有一笔消费不是我本人操作的", "收到陌生扣款短信",
                "卡在身上却被刷了两笔", "没刷卡却收到交易失败的短信", "有人用我的卡网上付款没成功",
                "同一笔扣了两次", "账单里有笔不认识的交易，刷卡失败了好几次"]


@pytest.mark.parametrize("text", DECLINED)
def test_declined_payments_are_recognised(text: str) -> None:
    assert is_declined_payment(text)


@pytest.mark.parametrize("text", UNAUTHORISED)
def test_signs_of_unauthorised_use_are_not_declines(text: str) -> None:
    assert not is_declined_payment(text)


def test_a_decline_read_as_fraud_is_answered_from_the_kb_and_not_queued(driver,
                                                                       fake_kb: FakeKB) -> None:
    fake_kb.by_query["刷卡总是提示交易失败"] = {"decision": "answer", "release": 7,
                                  "hits": [hit("decline-001", 0.9)]}
    turn = say(driver(), "刷卡总是提示交易失败", "fraud_dispute", "action_handoff")
    assert turn.outcome == "answered"
    assert turn.messages[0]["text"] == ENTRIES["decline-001"]["answer"]["text"]
    assert meta(turn)["reason"] == "declined_payment"
    assert "优先转接" not in turn.texts


def test_a_decline_the_kb_cannot_answer_goes_to_a_person_without_priority(driver,
                                                                          fake_kb: FakeKB) -> None:
    fake_kb.by_query["付款失败好几次了"] = {"decision": "fallback", "release": 7, "hits": []}
    turn = say(driver(), "付款失败好几次了", "fraud_dispute", "action_handoff")
    assert turn.outcome == "handoff"
    assert meta(turn)["handoff"] == {"reason": "declined_payment", "group": "general",
                                     "priority": False}


def test_unauthorised_use_keeps_the_fraud_priority_without_asking_the_kb(driver,
                                                                         fake_kb: FakeKB) -> None:
    turn = say(driver(), "卡在身上却被刷了两笔", "fraud_dispute", "action_handoff")
    assert turn.outcome == "handoff"
    assert meta(turn)["handoff"] == {"reason": "fraud_dispute", "group": "disputes",
                                     "priority": True}
    assert "优先转接" in turn.texts
    assert fake_kb.requests == []


# ---------------------------------------------------------------- acts without a flow


@pytest.mark.parametrize("intent,response", [
    ("affirm", "utter_affirm_no_context"), ("deny", "utter_deny_no_context"),
    ("cancel", "utter_cancel_no_context"), ("inform", "utter_inform_no_context")])
def test_a_plain_reply_gets_its_canned_answer_without_a_search(driver, fake_kb: FakeKB, intent: str,
                                                               response: str) -> None:
    turn = say(driver(), "好的", intent, "action_act_without_context", plain())
    assert [m.get("response") for m in turn.messages] == [response]
    assert fake_kb.requests == []


def test_a_card_statement_read_as_an_act_is_answered_from_the_kb(driver, fake_kb: FakeKB) -> None:
    fake_kb.by_query["不想要这张卡了"] = {"decision": "answer", "release": 7,
                              "hits": [hit("activate-009", 0.88)]}
    turn = say(driver(), "不想要这张卡了", "cancel", "action_act_without_context",
               plain(card_terms=["卡"], content_chars=6))
    assert turn.outcome == "answered"
    assert turn.messages[0]["text"] == ENTRIES["activate-009"]["answer"]["text"]


def test_a_card_statement_the_kb_does_not_know_gets_the_canned_reply(driver,
                                                                      fake_kb: FakeKB) -> None:
    fake_kb.by_query["不是这张卡"] = {"decision": "fallback", "release": 7, "hits": []}
    turn = say(driver(), "不是这张卡", "deny", "action_act_without_context",
               plain(card_terms=["卡"], content_chars=5))
    assert [m.get("response") for m in turn.messages] == ["utter_deny_no_context"]
    assert len(fake_kb.requests) == 1


def test_a_button_payload_is_never_searched(driver, fake_kb: FakeKB) -> None:
    turn = say(driver(), "/deny", "deny", "action_act_without_context")
    assert [m.get("response") for m in turn.messages] == ["utter_deny_no_context"]
    assert fake_kb.requests == []
