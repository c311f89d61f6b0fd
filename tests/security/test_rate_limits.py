"""Rate limits (issue 16 item 4): chat per user / conversation / IP, staff login lockout,
WeChat per openid; 429 with the bilingual body and Retry-After; memory:// and redis:// storage."""

from __future__ import annotations

import socket
import uuid

import pytest
from handoff_support import PASSWORD, make_staff

from api.core.config import get_settings
from api.core.ratelimit import RateLimiter
from tests.chat_support import signed


def assert_429(resp) -> None:
    assert resp.status_code == 429, resp.text
    detail = resp.json()["detail"]
    assert detail["code"] and detail["message"] and detail["message_en"]
    assert int(resp.headers["Retry-After"]) >= 1


def test_flood_from_one_user_gets_429(client, fake_rasa) -> None:
    limit = int(get_settings().rate_limit_chat_per_user.split("/")[0])
    codes = [client.post("/api/v1/chat", json=signed("demo-gold-001", f"第{i}条")).status_code
             for i in range(limit + 5)]
    assert codes[:limit] == [200] * limit
    assert set(codes[limit:]) == {429}
    assert_429(client.post("/api/v1/chat", json=signed("demo-gold-001", "还在吗")))
    assert len(fake_rasa.sent) == limit  # refused messages never reach the bot
    # another cardholder is not affected
    assert client.post("/api/v1/chat", json=signed("demo-gold-002", "你好")).status_code == 200


def test_per_conversation_and_per_ip_limits(client, monkeypatch) -> None:
    settings = get_settings()
    monkeypatch.setattr(settings, "rate_limit_chat_per_conversation", "3/minute")
    first = client.post("/api/v1/chat", json={"user_id": "v", "text": "你好"}).json()
    auth = {"Authorization": f"Bearer {first['conversation_token']}"}
    codes = [client.post("/api/v1/chat", json={"user_id": "v", "text": "你好"},
                         headers=auth).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    monkeypatch.setattr(settings, "rate_limit_chat_per_ip", "5/minute")
    # new visitors each time, but one address
    codes = [client.post("/api/v1/chat", json={"user_id": "v", "text": "你好"}).status_code
             for _ in range(6)]
    assert 429 in codes
    assert_429(client.post("/api/v1/chat", json=signed("demo-gold-002", "你好")))


def test_staff_login_locks_after_repeated_failures(client, monkeypatch) -> None:
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    make_staff("lockme")
    limit = int(get_settings().rate_limit_login_failures.split("/")[0])
    for _ in range(limit):
        resp = client.post("/api/v1/auth/token", data={"username": "lockme", "password": "no"})
        assert resp.status_code == 401
    # locked now: even the right password is refused, with a clear Chinese message
    resp = client.post("/api/v1/auth/token", data={"username": "lockme", "password": PASSWORD})
    assert_429(resp)
    assert resp.json()["detail"]["code"] == "login_locked"
    assert "锁定" in resp.json()["detail"]["message"]
    # case or spaces do not open a second counter
    resp = client.post("/api/v1/auth/token", data={"username": " LockMe ", "password": PASSWORD})
    assert resp.status_code == 429


def test_successful_login_resets_the_account_counter(client, monkeypatch) -> None:
    make_staff("forgetful")
    limit = int(get_settings().rate_limit_login_failures.split("/")[0])
    for _ in range(limit - 1):
        client.post("/api/v1/auth/token", data={"username": "forgetful", "password": "no"})
    ok = client.post("/api/v1/auth/token", data={"username": "forgetful", "password": PASSWORD})
    assert ok.status_code == 200
    bad = client.post("/api/v1/auth/token", data={"username": "forgetful", "password": "no"})
    assert bad.status_code == 401


def redis_reachable(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def test_memory_storage_counts_and_clears() -> None:
    limiter = RateLimiter("memory://")
    key = uuid.uuid4().hex
    assert [limiter.hit("t", "2/minute", key) for _ in range(3)][:2] == [None, None]
    assert limiter.blocked("t", "2/minute", key) is not None
    limiter.clear("t", "2/minute", key)
    assert limiter.blocked("t", "2/minute", key) is None


def test_memory_storage_sweeps_at_most_once_a_second_and_still_limits(monkeypatch) -> None:
    """limits' own MemoryStorage starts a 10 ms sweep thread on every hit; ours re-arms a
    1 s one: no thread per message, the same decisions, the windows still slide."""
    import threading
    import time

    from api.core import ratelimit

    starts: list[float] = []
    real_start = threading.Timer.start

    def counting_start(self):  # type: ignore[no-untyped-def]
        starts.append(self.interval)
        real_start(self)

    monkeypatch.setattr(threading.Timer, "start", counting_start)
    limiter = RateLimiter("memory://")
    assert isinstance(limiter._storage, ratelimit.LazyExpiryMemoryStorage)
    time.sleep(0.05)  # the constructor's first 10 ms sweep has run
    starts.clear()
    keys = [uuid.uuid4().hex for _ in range(50)]
    results = [limiter.hit("t", "3/second", k) for k in keys for _ in range(4)]
    assert starts == [ratelimit.MEMORY_EXPIRY_SECONDS]  # one sweep armed for 200 hits
    assert results.count(None) == 150  # 3 of 4 hits per key allowed

    def entries(key: str) -> list[object]:
        return [e for name, events in limiter._storage.events.items() if key in name
                for e in events]

    assert len(entries(keys[1])) == 3
    time.sleep(1.1)  # the window slides even before a sweep dropped the old entries
    assert limiter.hit("t", "3/second", keys[0]) is None
    time.sleep(1.1)
    assert entries(keys[1]) == []  # swept


def test_redis_storage_is_shared_between_limiters() -> None:
    if not redis_reachable():
        pytest.skip("Redis not reachable on 127.0.0.1:6379 (the memory:// storage is tested)")
    url = "redis://127.0.0.1:6379/2"
    one, two = RateLimiter(url), RateLimiter(url)  # two API processes
    assert one.check()
    key = uuid.uuid4().hex
    assert one.hit("t", "3/minute", key) is None
    assert two.hit("t", "3/minute", key) is None
    assert one.hit("t", "3/minute", key) is None
    wait = two.hit("t", "3/minute", key)
    assert wait is not None and 1 <= wait <= 60
    one.clear("t", "3/minute", key)


def test_unreachable_storage_lets_requests_through() -> None:
    limiter = RateLimiter("redis://127.0.0.1:1/0")
    assert limiter.hit("t", "1/minute", "k") is None
