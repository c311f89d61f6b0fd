"""Hit test, conflict check and publish → retrieval swap, with the real encoder
(var/models/e5-small) and the retrieval service's own decision logic."""

from __future__ import annotations

import pytest
from kb_support import KB, create, publish, staff, wait_serving

from api.core.config import get_settings
from knowledge_base.content.editor import KBEditor
from knowledge_base.db import sessions


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("KB_RELEASE_POLL_SECONDS", "1")


WATCH = {
    "standard_question": "信用卡可以绑定智能手表付款吗",
    "similar_questions": ["手表能刷信用卡吗", "智能手表怎么绑信用卡", "手环支付能用信用卡吗",
                          "穿戴设备可以用信用卡付钱吗"],
    "answer": {"text": "可以。本行信用卡支持绑定华为、小米等智能手表的 NFC 支付。"},
    "category": "绑定支付",
    "tags": ["手表支付"],
}
PARAPHRASE = "我的智能手表能不能绑这张信用卡付钱"


def bot_search(client, query: str) -> dict:
    """What the action server gets from the retrieval API."""
    resp = client.post("/internal/v1/kb/search", json={"query": query, "top_k": 5}, headers={
        "Authorization": f"Bearer {get_settings().internal_api_token}"})
    assert resp.status_code == 200, resp.text
    return resp.json()


def hit_test(client, headers, query: str) -> dict:
    resp = client.post(f"{KB}/hit-test", json={"query": query, "top_k": 5}, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_hit_test_draft_vs_live_and_publish_swaps_the_bot(client) -> None:
    ops, sup = staff(client, "ops"), staff(client, "supervisor")
    live = client.get(f"{KB}/status", headers=ops).json()["live_release"]
    wait_serving(client, ops, live, timeout=600)

    # the live side is exactly what the bot's retrieval decides for the same query
    for query in ("信用卡丢了怎么办", "年费怎么减免", "今天天气怎么样"):
        seen = hit_test(client, ops, query)
        bot = bot_search(client, query)
        assert seen["live"]["release"] == bot["release"] == live
        assert seen["live"]["decision"] == bot["decision"]
        assert [h["entry_id"] for h in seen["live"]["hits"]] == \
            [h["entry_id"] for h in bot["hits"]]
        assert seen["live"]["thresholds"] == bot["thresholds"]
        assert seen["draft"]["hits"] == seen["live"]["hits"]  # no drafts: same KB
    lost = hit_test(client, ops, "信用卡丢了怎么办")["live"]
    assert lost["hits"][0]["entry_id"].startswith("lost-")
    assert lost["decision"] in ("answer", "clarify") and lost["would"]

    created = create(client, ops, WATCH)
    before = hit_test(client, ops, PARAPHRASE)
    assert before["pending_drafts"] == 1
    assert before["draft"]["hits"][0]["entry_id"] == created["id"]
    assert before["draft"]["decision"] == "answer"
    assert created["id"] not in [h["entry_id"] for h in before["live"]["hits"]]
    assert before["draft"]["release"] is None
    scores = [h["score"] for h in before["draft"]["hits"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 5

    release = publish(client, sup)["release"]
    waited = wait_serving(client, ops, release, timeout=120)
    after = hit_test(client, ops, PARAPHRASE)
    assert after["live"]["release"] == release
    assert after["live"]["hits"][0]["entry_id"] == created["id"]
    assert after["live"]["decision"] == "answer"
    health = client.get("/health").json()["components"]["retrieval"]
    assert health["release"] == release
    # the internal search the action server uses answers from the new release too
    internal = bot_search(client, PARAPHRASE)
    assert internal["release"] == release and internal["hits"][0]["entry_id"] == created["id"]
    assert waited < 60, f"publish took {waited:.1f}s to reach retrieval"

    # rollback: the bot forgets it
    rolled = client.post(f"{KB}/releases/{live}/rollback", headers=sup).json()
    wait_serving(client, ops, rolled["release"], timeout=120)
    gone = hit_test(client, ops, PARAPHRASE)
    assert created["id"] not in [h["entry_id"] for h in gone["live"]["hits"]]

    # a release published by another process (straight into the database) is picked up too
    settings = get_settings()
    with sessions(settings.database_url)() as session:
        other = KBEditor(session, settings.database_url, "batch-job", "admin")
        other.update("fee-001", {"tags": ["年费", "外部发布"]}, 0)
        external = other.publish_drafts("published by another process").release
    wait_serving(client, ops, external, timeout=120)

    bad = client.post(f"{KB}/hit-test", json={"query": "  "}, headers=ops)
    assert bad.status_code == 422


def test_conflict_check_flags_a_question_closer_to_another_entry(client) -> None:
    ops = staff(client, "ops")
    live = client.get(f"{KB}/status", headers=ops).json()["live_release"]
    wait_serving(client, ops, live, timeout=600)
    # the last similar question is really about repaying (repay-001), not about watches
    body = {**WATCH, "similar_questions": [*WATCH["similar_questions"], "信用卡该怎么还钱"]}
    check = client.post(f"{KB}/conflicts/check", json=body, headers=ops)
    assert check.status_code == 200, check.text
    items = check.json()["items"]
    assert [c["question"] for c in items] == ["信用卡该怎么还钱"]
    assert items[0]["other_entry_id"].startswith("repay-")
    assert items[0]["other_score"] > items[0]["own_score"]
    assert "更接近条目" in items[0]["message"]

    clean = client.post(f"{KB}/conflicts/check", json=WATCH, headers=ops).json()
    assert clean["items"] == [] and clean["checked_questions"] == 5

    created = create(client, ops, body)
    saved = client.get(f"{KB}/entries/{created['id']}/conflicts", headers=ops).json()
    assert [c["question"] for c in saved["items"]] == ["信用卡该怎么还钱"]
    pending = client.get(f"{KB}/conflicts", headers=ops).json()
    assert [c["entry_id"] for c in pending["items"]] == [created["id"]]
