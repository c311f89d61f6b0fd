"""Issue 7 done-when: self-service card flows through POST /api/v1/chat on the real stack.

The stack seeds its own card store (a temporary CARD_DB_URL) on first use; the demo cardholders
are listed in cards/README.md. Each test uses its own cardholder so that the order
of the tests does not matter.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

HUMAN = {"title": "转人工客服", "payload": "/request_human"}


def buttons(reply: dict) -> list[dict]:
    return [b for m in reply["messages"] for b in m.get("buttons") or []]


def test_change_statement_date_then_ask_it(chat, texts) -> None:
    r = chat("demo-gold-001", "帮我把账单日改到15号")
    assert r["outcome"] == "form", r
    assert "卡号的后四位" in texts(r)
    r = chat("demo-gold-001", "8801")
    assert r["outcome"] == "form", r
    assert "身份证号码的后六位" in texts(r)
    r = chat("demo-gold-001", "520133")
    assert r["outcome"] == "form", r
    assert "身份核验通过" in texts(r)
    assert "改为每月15日" in texts(r) and "确认修改吗" in texts(r)
    r = chat("demo-gold-001", "是的")
    assert r["outcome"] == "answered", r
    assert "账单日已改为每月15日" in texts(r) and "下一个账单周期" in texts(r)
    r = chat("demo-gold-001", "我的账单日是哪天")
    assert r["outcome"] == "answered", r
    assert "15号" in texts(r)
    assert "卡号的后四位" not in texts(r)  # verified once per conversation


def test_correction_during_confirmation_and_goodbye_reminder(chat, texts) -> None:
    user = "demo-standard-001"
    chat(user, "申请临时额度")
    chat(user, "3001")
    r = chat(user, "110011")
    assert r["outcome"] == "form" and "最高可申请临时额度3,000.00元" in texts(r), r
    r = chat(user, "两千")
    assert "申请临时额度2,000.00元" in texts(r), r
    r = chat(user, "不对，改成1500元")
    assert r["outcome"] == "form", r
    assert "申请临时额度1,500.00元" in texts(r)
    r = chat(user, "/affirm")  # the 确认 button
    assert r["outcome"] == "answered", r
    assert "临时额度已生效" in texts(r)
    r = chat(user, "再见")
    assert "再见" in texts(r) and "温馨提醒" in texts(r), r


def test_cancel_changes_nothing(chat, texts) -> None:
    user = "demo-standard-002"
    chat(user, "帮我用积分兑换话费")
    chat(user, "4402")
    r = chat(user, "210012")
    assert "使用5,000积分兑换话费" in texts(r), r
    r = chat(user, "算了不办了")
    assert r["outcome"] == "answered", r
    assert "已取消" in texts(r) and "没有做任何修改" in texts(r)
    r = chat(user, "查一下我的积分")
    assert "8,600" in texts(r), r


def test_faq_in_the_middle_of_a_form_then_resume(chat, texts) -> None:
    user = "demo-gold-002"
    chat(user, "我要激活新卡")
    chat(user, "7702")
    r = chat(user, "440305")
    assert "激活尾号7703的金卡" in texts(r), r
    r = chat(user, "信用卡境外刷卡要手续费吗")
    assert r["outcome"] == "form", r  # answered from the KB, then the form asks again
    assert r["details"].get("kb"), r
    assert "激活尾号7703的金卡" in texts(r)
    r = chat(user, "是的")
    assert r["outcome"] == "answered", r
    assert "已激活" in texts(r)


def test_three_wrong_identity_answers_lock_and_offer_a_human(chat, texts) -> None:
    user = "demo-platinum-001"
    chat(user, "查一下我的账单")
    for _ in range(3):
        chat(user, "6601")
        r = chat(user, "999999")
    assert HUMAN in buttons(r), r
    assert "暂停办理自助业务" in texts(r)
    assert "23,180" not in texts(r)
    r = chat(user, "我的额度是多少")
    assert "卡号的后四位" not in texts(r)
    assert "200,000" not in texts(r)
