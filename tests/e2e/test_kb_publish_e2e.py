"""Issue 6 done-when, through the real three processes: a published KB entry reaches the bot in
seconds, a rollback takes it away again, and publishing under chat traffic loses nothing."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

KB = "/api/v1/kb"
REACH_SECONDS = 5.0
# A question nobody else has: a co-branded card that does not exist in the seed KB.
MARKER = "蓝鲸联名卡专属热线 400-820-5566"
ENTRY = {
    "standard_question": "蓝鲸联名信用卡的专属客服热线是多少",
    "similar_questions": ["蓝鲸联名卡客服电话多少", "蓝鲸卡专属热线号码", "蓝鲸联名卡人工电话",
                          "蓝鲸信用卡的服务热线"],
    "answer": {"text": f"{MARKER}，7×24 小时为蓝鲸联名卡持卡人服务。"},
    "category": "服务渠道",
    "tags": ["蓝鲸联名卡"],
}
PARAPHRASE = "蓝鲸联名卡的客服热线电话是多少号"


def staff(stack: Any, role: str) -> dict[str, str]:
    user = os.environ.get(f"DEMO_{role.upper()}_USER", role)
    password = os.environ.get(f"DEMO_{role.upper()}_PASSWORD", f"{role}-dev-pass")
    resp = httpx.post(f"{stack.base_url}/api/v1/auth/token",
                      data={"username": user, "password": password}, timeout=30)
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


@pytest.fixture()
def restore_kb(stack: Any) -> Iterator[None]:
    """Leave the shared stack's KB as it was: roll back to the release the test started on
    (its content, hence its index and calibration, are exactly the old ones)."""
    ops = staff(stack, "ops")
    start = httpx.get(f"{stack.base_url}{KB}/status", headers=ops, timeout=30).json()
    yield
    sup = staff(stack, "supervisor")
    now = httpx.get(f"{stack.base_url}{KB}/status", headers=ops, timeout=30).json()
    if now["live_release"] != start["live_release"]:
        resp = httpx.post(f"{stack.base_url}{KB}/releases/{start['live_release']}/rollback",
                          json={"note": "e2e cleanup"}, headers=sup, timeout=60)
        assert resp.status_code in (200, 409), resp.text  # 409: content already equal
        release = resp.json().get("release")
        if release:
            until(lambda: httpx.get(f"{stack.base_url}/health", timeout=30).json()[
                "components"]["retrieval"].get("release") == release, 60)


def answers_marker(chat: Any, texts: Any) -> bool:
    reply = chat(f"kb-e2e-{uuid.uuid4().hex[:8]}", PARAPHRASE)
    return reply["outcome"] == "answered" and MARKER in texts(reply)


def until(predicate: Any, seconds: float) -> float | None:
    """Seconds until predicate() is true, or None if it never was within ``seconds``."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > seconds:
            return None
        time.sleep(0.2)


def test_publish_reaches_the_bot_in_seconds_and_rollback_removes_it(stack, chat, texts,
                                                                    restore_kb) -> None:
    ops, sup = staff(stack, "ops"), staff(stack, "supervisor")
    base = stack.base_url
    assert not answers_marker(chat, texts)
    created = httpx.post(f"{base}{KB}/entries", json=ENTRY, headers=ops, timeout=30)
    assert created.status_code == 201, created.text
    assert not answers_marker(chat, texts)  # a draft is not live

    before = httpx.get(f"{base}{KB}/status", headers=ops, timeout=30).json()["live_release"]
    start = time.monotonic()
    published = httpx.post(f"{base}{KB}/publish", json={"note": "e2e"}, headers=sup, timeout=60)
    assert published.status_code == 200, published.text
    release = published.json()["release"]
    assert release == before + 1
    waited = until(lambda: answers_marker(chat, texts), REACH_SECONDS)
    assert waited is not None, f"not answered {REACH_SECONDS}s after publish"
    assert time.monotonic() - start <= REACH_SECONDS + 1.5  # one chat round trip of slack
    health = httpx.get(f"{base}/health", timeout=30).json()
    assert health["components"]["retrieval"]["release"] == release

    rolled = httpx.post(f"{base}{KB}/releases/{before}/rollback", headers=sup, timeout=60)
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["release"] == release + 1
    gone = until(lambda: not answers_marker(chat, texts), REACH_SECONDS)
    assert gone is not None, "still answered after rollback"
    health = httpx.get(f"{base}/health", timeout=30).json()
    assert health["components"]["retrieval"]["release"] == release + 1


def test_publishing_during_chat_traffic_drops_no_query(stack, restore_kb) -> None:
    ops, sup = staff(stack, "ops"), staff(stack, "supervisor")
    base = stack.base_url
    questions = ["信用卡怎么还款", "年费怎么收", "我的信用卡丢了怎么办", "账单日是哪天",
                 "怎么提高信用额度"]
    results: list[tuple[int, int, dict[str, Any]]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def stream(worker: int) -> None:
        with httpx.Client(timeout=60) as client:
            for i in range(40):
                text = questions[i % len(questions)]
                try:
                    resp = client.post(f"{base}/api/v1/chat", json={
                        "user_id": f"kb-stream-{worker}-{i}", "text": text})
                except httpx.HTTPError as exc:
                    with lock:
                        failures.append(f"{worker}/{i}: {exc!r}")
                    continue
                with lock:
                    results.append((worker, resp.status_code, resp.json()))

    threads = [threading.Thread(target=stream, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    releases = []
    for n in range(3):  # three publishes while the stream runs
        time.sleep(1.0)
        body = {**ENTRY, "standard_question": f"流量测试条目{n}号怎么办理",
                "similar_questions": [f"流量测试{n}号怎么办", f"流量测试{n}号办理",
                                      f"流量测试{n}号申请", f"流量测试{n}号流程"],
                "answer": {"text": f"流量测试 {n} 号的答案。"}}
        created = httpx.post(f"{base}{KB}/entries", json=body, headers=ops, timeout=30)
        assert created.status_code == 201, created.text
        published = httpx.post(f"{base}{KB}/publish", headers=sup, timeout=60)
        assert published.status_code == 200, published.text
        releases.append(published.json()["release"])
    for t in threads:
        t.join(timeout=600)
    assert not failures, failures
    assert len(results) == 80
    assert all(code == 200 for _, code, _ in results), results
    for _, _, body in results:
        assert body["outcome"] in ("answered", "clarify", "fallback", "form"), body
        assert body["details"].get("reason") != "kb_unavailable", body
        assert body["messages"] and all(m.get("text") or m.get("url")
                                        for m in body["messages"]), body
    # each client saw the KB release move forward only: every swap was atomic, and the
    # stream really straddled the swaps
    releases_seen: set[int] = set()
    for worker in range(2):
        seen = [body["details"]["kb"]["release"] for w, _, body in results
                if w == worker and isinstance(body["details"].get("kb"), dict)
                and body["details"]["kb"].get("release")]
        assert seen and seen == sorted(seen), seen
        releases_seen.update(seen)
    assert len(releases_seen) > 1, releases_seen
    served = until(lambda: httpx.get(f"{base}/health", timeout=30).json()["components"][
        "retrieval"].get("release") == releases[-1], REACH_SECONDS)
    assert served is not None
