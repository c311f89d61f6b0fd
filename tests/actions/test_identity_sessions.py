"""Issue 16: the gateway's trust flag and identity-check sessions that expire.

A card account is read only when the gateway vouches for the channel user (`user_verified`
metadata); a passed check goes stale after IDENTITY_IDLE_SECONDS without a message, and an
account change wants one younger than IDENTITY_CHANGE_WINDOW_SECONDS.
"""

from __future__ import annotations

import time

import pytest

from actions import identity, kb_client
from actions.settings import get_settings


def backdate(d, seconds: float) -> None:
    """Pretend everything so far happened `seconds` ago (Rasa timestamps every event)."""
    at = time.time() - seconds
    for event in d.events:
        event["timestamp"] = at


def passed_check(driver, user_id: str = "demo-gold-001"):
    d = driver(user_id)
    d.say("我的额度还有多少", "check_credit_limit")
    d.say("8801", "inform")
    turn = d.say("520133", "inform")
    assert "身份核验通过" in turn.texts and "50,000" in turn.texts
    return d


def test_unsigned_caller_claiming_a_cardholder_id_gets_no_account_data(driver,
                                                                       monkeypatch) -> None:
    async def kb_down(*args, **kwargs):
        raise kb_client.KBUnavailable("not running in this test")

    monkeypatch.setattr(kb_client, "search", kb_down)
    d = driver("demo-gold-001", verified=False)  # the gateway did not verify this user id
    turn = d.say("我的额度还有多少", "check_credit_limit")
    assert "50,000" not in turn.texts
    assert "utter_ask_card_last4" not in turn.actions  # not even asked: no account here
    assert "没有查询到与您当前登录账号关联的信用卡" in turn.texts
    turn = d.say("我的额度还有多少", "check_credit_limit")  # asking again changes nothing
    assert "50,000" not in turn.texts and "utter_ask_card_last4" not in turn.actions


def test_check_expires_after_idle_time(driver) -> None:
    d = passed_check(driver)
    assert d.say("额度呢", "check_credit_limit").actions[-1] == "action_check_credit_limit"
    backdate(d, get_settings().identity_idle_seconds + 60)
    turn = d.say("额度呢", "check_credit_limit")
    assert "50,000" not in turn.texts
    assert turn.actions[-1].startswith(("utter_ask_", "action_ask_"))
    d.say("8801", "inform")  # answering again restores it
    turn = d.say("520133", "inform")
    assert "身份核验通过" in turn.texts and "50,000" in turn.texts


@pytest.mark.parametrize(("text", "intent"), [
    ("我的卡丢了，帮我挂失", "report_lost_card"),
    ("帮我冻结这张卡", "freeze_card"),
    ("我想改账单日", "change_statement_date"),
    ("申请临时额度", "apply_temp_limit"),
])
def test_account_change_asks_again_after_the_shorter_window(driver, text, intent) -> None:
    settings = get_settings()
    assert settings.identity_change_window_seconds < settings.identity_idle_seconds
    d = passed_check(driver)
    backdate(d, (settings.identity_change_window_seconds + settings.identity_idle_seconds) / 2)
    # still fresh for a lookup ...
    assert "50,000" in d.say("额度呢", "check_credit_limit").texts
    # ... but not for a change (挂失, 冻结, 账单日修改, 临时额度): it asks for the digits again
    turn = d.say(text, intent)
    assert turn.actions[-1].startswith(("utter_ask_", "action_ask_"))
    asked = d.slots["requested_slot"]
    assert asked in identity.IDENTITY_SLOTS, asked


def test_freshness_rules_directly() -> None:
    class T:
        def __init__(self, events):
            self.events = events

    now = 1_000_000.0
    s = get_settings()
    verified = {"event": "slot", "name": identity.VERIFIED, "value": True, "timestamp": now - 10}
    assert identity.check_is_fresh(T([verified]), change=True, now=now)
    old = dict(verified, timestamp=now - s.identity_change_window_seconds - 1)
    assert identity.check_is_fresh(T([old]), change=False, now=now)
    assert not identity.check_is_fresh(T([old]), change=True, now=now)
    # busy all along (a message every minute) but verified long ago: fine for a lookup
    long_ago = now - 3 * s.identity_idle_seconds
    chatty = [dict(verified, timestamp=long_ago)] + [
        {"event": "user", "timestamp": t} for t in range(int(long_ago) + 60, int(now), 60)]
    assert identity.check_is_fresh(T(chatty), change=False, now=now)
    idle = [dict(verified, timestamp=now - s.identity_idle_seconds - 5)]
    assert not identity.check_is_fresh(T(idle), change=False, now=now)
