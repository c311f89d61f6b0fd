"""Unanswered-questions inbox (clustered by meaning with the real encoder) and per-entry
statistics, from conversations that went through the real gateway (Rasa scripted)."""

from __future__ import annotations

from typing import Any

import pytest
from kb_support import KB, staff, wait_serving

from tests.chat_support import owner, signed


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    # these tests look at releases, not at the retrieval swap: publish without waiting for it
    monkeypatch.setenv("KB_PUBLISH_WAIT_SECONDS", "0")


# text -> what the scripted Rasa does with it (like actions/retrieval.py + actions/handoff.py)
SCRIPT: dict[str, dict[str, Any]] = {}


def _meta(outcome: str, **extra: Any) -> dict[str, Any]:
    return {"custom": {"meta": {"outcome": outcome, **extra}}}


def scripted(body: dict[str, Any]) -> list[dict[str, Any]]:
    text, sender = body["message"], body["sender"]
    plan = SCRIPT.get(text)
    if text == "/none_of_these" or text == "转人工":
        reason = "clarify_rejected" if text == "/none_of_these" else "requested"
        return [{"recipient_id": sender, "text": "正在为您转接人工客服"},
                {"recipient_id": sender, **_meta("handoff", handoff={"reason": reason})}]
    if plan is None:
        return [{"recipient_id": sender, "text": "好的"}]
    if plan["outcome"] == "answered":
        return [{"recipient_id": sender, "text": "答案"},
                {"recipient_id": sender, **_meta("answered", kb={
                    "entry_id": plan["entry_id"], "score": plan["score"], "release": 1,
                    **plan.get("kb", {})})}]
    if plan["outcome"] == "clarify":
        return [{"recipient_id": sender, "text": "您是不是想问：", "buttons": [
            {"title": "都不是", "payload": "/none_of_these"}]},
            {"recipient_id": sender, **_meta("clarify", kb={"candidates": [], "release": 1})}]
    return [{"recipient_id": sender, "text": "抱歉，我没太明白"},
            {"recipient_id": sender, **_meta("fallback", kb={"score": 0.8, "release": 1})}]


def say(client, user: str, text: str) -> dict[str, Any]:
    resp = client.post("/api/v1/chat", json=signed(user, text))
    assert resp.status_code == 200, resp.text
    return resp.json()


WATCH = ["信用卡能不能绑定手表付款", "手表可以刷信用卡吗", "智能手表怎么绑信用卡"]
LOUNGE = ["境外机场贵宾厅能免费用吗", "机场贵宾厅怎么进"]


def test_inbox_groups_unanswered_questions_by_meaning(client, fake_rasa) -> None:
    fake_rasa.reply = scripted
    SCRIPT.clear()
    for text in WATCH:
        SCRIPT[text] = {"outcome": "fallback"}
    SCRIPT["机场贵宾厅怎么进"] = {"outcome": "clarify"}
    SCRIPT["境外机场贵宾厅能免费用吗"] = {"outcome": "answered", "entry_id": "perks-001",
                                          "score": 0.5}  # low confidence
    SCRIPT["我的账单不对劲"] = {"outcome": "answered", "entry_id": "bill-001", "score": 0.99}
    SCRIPT["信用卡怎么还款"] = {"outcome": "answered", "entry_id": "repay-001", "score": 0.99}

    for i, text in enumerate(WATCH):
        say(client, f"w{i}", text)
    say(client, "w9", WATCH[0])                       # asked twice
    say(client, "l1", "机场贵宾厅怎么进")
    say(client, "l1", "/none_of_these")               # "都不是" -> clarify_rejected
    say(client, "l2", "境外机场贵宾厅能免费用吗")
    bad = say(client, "b1", "我的账单不对劲")          # thumbs down
    feedback = client.post(f"/api/v1/chat/{bad['conversation_id']}/feedback",
                           headers=owner(bad['conversation_id']),
                           json={"kb_event_id": bad["details"]["kb_event_id"], "helpful": False})
    assert feedback.status_code == 200
    say(client, "ok", "信用卡怎么还款")                 # answered well: not in the inbox

    ops = staff(client, "ops")
    # suggestions come from the live snapshot: let the retrieval service finish loading
    wait_serving(client, ops, client.get(f"{KB}/status", headers=ops).json()["live_release"],
                 timeout=600)
    inbox = client.get(f"{KB}/inbox", headers=ops)
    assert inbox.status_code == 200, inbox.text
    groups = inbox.json()["items"]
    assert inbox.json()["total_questions"] == 6
    top = groups[0]
    assert sorted(top["texts"]) == sorted(WATCH) and top["count"] == 4
    assert top["kinds"] == {"fallback": 4}
    assert top["samples"][0] == {"text": WATCH[0], "count": 2}
    lounge = next(g for g in groups if "机场贵宾厅怎么进" in g["texts"])
    assert sorted(lounge["texts"]) == sorted(LOUNGE)
    assert lounge["kinds"] == {"clarify_rejected": 1, "low_confidence": 1}
    assert lounge["suggestion"] and lounge["suggestion"]["entry_id"]
    thumbs = next(g for g in groups if "我的账单不对劲" in g["texts"])
    assert thumbs["kinds"] == {"thumbs_down": 1} and thumbs["count"] == 1
    assert len(groups) == 3

    # one click: the watch group becomes similar questions of a (draft) entry
    entry = client.get(f"{KB}/entries/payment-001", headers=ops).json()
    added = client.post(f"{KB}/inbox/add-to-entry", headers=ops, json={
        "entry_id": entry["id"], "revision": entry["revision"], "texts": top["texts"]})
    assert added.status_code == 200, added.text
    assert sorted(added.json()["added"]) == sorted(WATCH)
    assert added.json()["entry"]["status"] == "draft"
    assert set(WATCH) <= set(added.json()["entry"]["similar_questions"])
    stale = client.post(f"{KB}/inbox/add-to-entry", headers=ops, json={
        "entry_id": entry["id"], "revision": entry["revision"], "texts": ["别的问题"]})
    assert stale.status_code == 409

    dismissed = client.post(f"{KB}/inbox/resolve", headers=ops,
                            json={"texts": thumbs["texts"], "resolution": "dismissed"})
    assert dismissed.status_code == 200 and dismissed.json() == {"resolved": 1}
    left = client.get(f"{KB}/inbox", headers=ops).json()["items"]
    assert [sorted(g["texts"]) for g in left] == [sorted(LOUNGE)]
    log = client.get(f"{KB}/audit", headers=ops).json()["items"]
    assert [a["action"] for a in log[:2]] == ["inbox", "add_similar"]


def _answered(entry_id: str, p_answer: float, p_real: float) -> dict[str, Any]:
    """An answer with the decision's confidence and calibrated thresholds, as
    actions/retrieval.py logs it (team model threshold 0.73, real-language 0.51)."""
    return {"outcome": "answered", "entry_id": entry_id, "score": 0.5, "kb": {
        "confidence": {"answer": p_answer, "scope": 0.99, "real_answer": p_real},
        "thresholds": {"answer": 0.73, "clarify": 0.3, "real_answer": 0.51}}}


def test_inbox_kinds_threshold_and_ranking_by_cardholders(client, fake_rasa) -> None:
    fake_rasa.reply = scripted
    SCRIPT.clear()
    # both models only just above their thresholds (0.05 and 0.09 < margin 0.1): low confidence
    SCRIPT["年费能免吗"] = _answered("fee-001", 0.78, 0.60)
    # well above (0.22), although the legacy cosine score 0.5 is under KB_INBOX_LOW_CONFIDENCE
    SCRIPT["年费怎么收的"] = _answered("fee-001", 0.95, 0.40)
    # answered well, then a human was asked for right after
    SCRIPT["分期手续费怎么算"] = _answered("installment-001", 0.97, 0.9)
    SCRIPT["积分在哪儿看"] = {"outcome": "clarify"}  # clarified, and not rejected
    SCRIPT["手表可以刷信用卡吗"] = {"outcome": "fallback"}

    for user in ("u1", "u2", "u3"):                     # three cardholders, once each
        say(client, user, "年费能免吗")
    for _ in range(4):                                  # one cardholder, four times
        say(client, "u9", "手表可以刷信用卡吗")
    say(client, "u4", "年费怎么收的")
    say(client, "u5", "分期手续费怎么算")
    say(client, "u5", "转人工")
    say(client, "u6", "积分在哪儿看")
    say(client, "u6", "好的")

    ops = staff(client, "ops")
    wait_serving(client, ops, client.get(f"{KB}/status", headers=ops).json()["live_release"],
                 timeout=600)
    groups = client.get(f"{KB}/inbox", headers=ops).json()["items"]
    by_text = {t: g for g in groups for t in g["texts"]}
    assert "年费怎么收的" not in by_text
    assert by_text["年费能免吗"]["kinds"] == {"low_confidence": 3}
    assert by_text["分期手续费怎么算"]["kinds"] == {"handoff_after_answer": 1}
    assert by_text["积分在哪儿看"]["kinds"] == {"clarify": 1}
    watch = by_text["手表可以刷信用卡吗"]
    assert watch["count"] == 4 and watch["users"] == 1 and watch["conversations"] == 1
    fee = by_text["年费能免吗"]
    assert fee["users"] == 3 and fee["count"] == 3
    # ranked by how many cardholders a fix would help, not by how often one of them asked
    assert groups.index(fee) < groups.index(watch)


def test_entry_stats_count_hits_thumbs_and_handoffs_right_after(client, fake_rasa) -> None:
    fake_rasa.reply = scripted
    SCRIPT.clear()
    SCRIPT["账单怎么查"] = {"outcome": "answered", "entry_id": "bill-001", "score": 0.97}
    SCRIPT["账单在哪看"] = {"outcome": "answered", "entry_id": "bill-001", "score": 0.96}
    SCRIPT["怎么还款"] = {"outcome": "answered", "entry_id": "repay-001", "score": 0.98}

    say(client, "s1", "账单怎么查")
    say(client, "s1", "转人工")                        # handoff right after the answer
    r2 = say(client, "s2", "账单在哪看")
    client.post(f"/api/v1/chat/{r2['conversation_id']}/feedback",
                headers=owner(r2['conversation_id']),
                json={"kb_event_id": r2["details"]["kb_event_id"], "helpful": True})
    r3 = say(client, "s3", "账单怎么查")
    client.post(f"/api/v1/chat/{r3['conversation_id']}/feedback",
                headers=owner(r3['conversation_id']),
                json={"kb_event_id": r3["details"]["kb_event_id"], "helpful": False})
    say(client, "s3", "你好")
    say(client, "s3", "在吗")
    say(client, "s3", "转人工")                        # three turns later: not "right after"
    say(client, "s4", "怎么还款")

    ops = staff(client, "ops")
    one = client.get(f"{KB}/entries/bill-001/stats", headers=ops)
    assert one.status_code == 200, one.text
    assert {k: one.json()[k] for k in ("hits", "helpful", "not_helpful", "handoffs_after")} == \
        {"hits": 3, "helpful": 1, "not_helpful": 1, "handoffs_after": 1}
    assert one.json()["last_hit_at"]
    listing = client.get(f"{KB}/stats", headers=ops).json()["items"]
    assert [(s["entry_id"], s["hits"], s["handoffs_after"]) for s in listing] == [
        ("bill-001", 3, 1), ("repay-001", 1, 0)]
    assert listing[0]["question"]
    none = client.get(f"{KB}/entries/fee-001/stats", headers=ops).json()
    assert none["hits"] == 0 and none["handoffs_after"] == 0
    assert client.get(f"{KB}/entries/nope-001/stats", headers=ops).status_code == 404


def test_margin_is_the_deciding_models_own() -> None:
    """With the combined model in the event (it decides), only its margin over its threshold
    counts: a team-model probability far above the team threshold does not hide an answer that
    only just passed the combined threshold. Older events keep the larger of the two margins."""
    from api.kbops.insights import confidence_margin

    combined = {"confidence": {"answer": 0.99, "real_answer": 0.95, "combined_answer": 0.62},
                "thresholds": {"answer": 0.5, "real_answer": 0.5, "combined_answer": 0.6}}
    assert confidence_margin(combined) == pytest.approx(0.02)
    older = {"confidence": {"answer": 0.99, "real_answer": 0.55},
             "thresholds": {"answer": 0.5, "real_answer": 0.5}}
    assert confidence_margin(older) == pytest.approx(0.49)
    assert confidence_margin({"confidence": None}) is None


def test_inbox_range_from_to_in_beijing_days(client, fake_rasa) -> None:
    """`from`/`to` (the insights dashboard's range, local days) replace `days`: a question of
    today is in today's range and not in yesterday's; bad ranges are a Chinese 422."""
    from datetime import UTC, datetime, timedelta, timezone

    fake_rasa.reply = scripted
    SCRIPT.clear()
    SCRIPT["手表可以刷信用卡吗"] = {"outcome": "fallback"}
    say(client, "r1", "手表可以刷信用卡吗")
    ops = staff(client, "ops")
    wait_serving(client, ops, client.get(f"{KB}/status", headers=ops).json()["live_release"],
                 timeout=600)
    today = datetime.now(UTC).astimezone(timezone(timedelta(hours=8))).date()
    yesterday = today - timedelta(days=1)

    def texts(**params: str) -> list[str]:
        resp = client.get(f"{KB}/inbox", headers=ops, params=params)
        assert resp.status_code == 200, resp.text
        return [t for g in resp.json()["items"] for t in g["texts"]]

    assert "手表可以刷信用卡吗" in texts(**{"from": today.isoformat(), "to": today.isoformat()})
    assert texts(**{"from": (today - timedelta(days=9)).isoformat(),
                    "to": yesterday.isoformat()}) == []
    body = client.get(f"{KB}/inbox", headers=ops,
                      params={"from": today.isoformat(), "to": yesterday.isoformat()})
    assert body.status_code == 422
    assert body.json()["detail"]["message"] == "开始日期不能晚于结束日期。"
    half = client.get(f"{KB}/inbox", headers=ops, params={"from": today.isoformat()})
    assert half.status_code == 422 and half.json()["detail"]["message_en"]
