"""Rate limits on top of the `limits` library (moving windows; memory:// or redis:// storage).

One `RateLimiter` per API process (built in the lifespan, `app.state.limiter`); with a Redis
URL every process shares the counters. Over a limit, `enforce` raises a 429 `ApiError` with a
bilingual message and `Retry-After`.
"""

from __future__ import annotations

import logging
import math
import threading
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from api.core.errors import ApiError

logger = logging.getLogger(__name__)
KEY_PREFIX = "cardbot-ratelimit"
# How often the in-memory storage drops expired entries (memory only: see below).
MEMORY_EXPIRY_SECONDS = 1.0


class LazyExpiryMemoryStorage(MemoryStorage):
    """`memory://` storage whose expired entries are dropped at most once a second.

    limits' MemoryStorage re-arms a 10 ms timer on every hit: a new thread that walks every
    key, i.e. on the chat path (three limits per message) a thread start and a scan of all
    the keys of the last window for each message, growing with the traffic. Expiry there only
    frees memory: the moving window compares entry timestamps and the counters check their
    expiry when read, so the limits are the same with a slower sweep.
    """

    def _MemoryStorage__schedule_expiry(self) -> None:  # overrides the private re-arm
        if not self.timer.is_alive():
            self.timer = threading.Timer(MEMORY_EXPIRY_SECONDS,
                                         self._MemoryStorage__expire_events)  # type: ignore[attr-defined]
            self.timer.daemon = True
            self.timer.start()


class RateLimiter:
    """Named, keyed limits: `hit("chat_user", "20/minute", user_id)`."""

    def __init__(self, storage_url: str) -> None:
        options = {"key_prefix": KEY_PREFIX} if storage_url.startswith(("redis", "rediss")) else {}
        self._storage = (LazyExpiryMemoryStorage(storage_url)
                         if storage_url.startswith("memory://")
                         else storage_from_string(storage_url, **options))
        self._limiter = MovingWindowRateLimiter(self._storage)

    @staticmethod
    def _item(rule: str) -> RateLimitItem:
        return parse(rule)

    def retry_after(self, name: str, rule: str, key: str) -> int:
        """Seconds until one more hit would be allowed."""
        stats = self._limiter.get_window_stats(self._item(rule), name, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def hit(self, name: str, rule: str, key: str) -> int | None:
        """Count one hit; None when within the limit, else the seconds to wait.

        A storage failure (Redis down) lets the request through and is logged: the limits
        protect the service, they must not take it down.
        """
        try:
            if self._limiter.hit(self._item(rule), name, key):
                return None
            return self.retry_after(name, rule, key)
        except Exception as exc:  # noqa: BLE001 - any storage error, e.g. redis ConnectionError
            logger.error("rate-limit storage failed (%s): request let through",
                         type(exc).__name__)
            return None

    def blocked(self, name: str, rule: str, key: str) -> int | None:
        """Without counting: None when another hit is allowed, else the seconds to wait."""
        try:
            if self._limiter.test(self._item(rule), name, key):
                return None
            return self.retry_after(name, rule, key)
        except Exception as exc:  # noqa: BLE001
            logger.error("rate-limit storage failed (%s): request let through",
                         type(exc).__name__)
            return None

    def clear(self, name: str, rule: str, key: str) -> None:
        """Forget the hits of one key (e.g. failed logins after a successful one)."""
        try:
            self._limiter.clear(self._item(rule), name, key)
        except Exception as exc:  # noqa: BLE001
            logger.error("rate-limit storage failed (%s)", type(exc).__name__)

    def check(self) -> bool:
        """Whether the storage answers."""
        return bool(self._storage.check())


def too_many(retry_after: int, message_zh: str = "", message_en: str = "",
             code: str = "rate_limited") -> ApiError:
    """The 429 of every limit."""
    err = ApiError(429, code,
                   message_zh or f"您的操作太频繁了，请 {retry_after} 秒后再试。",
                   message_en or f"Too many requests; retry in {retry_after} s.",
                   retry_after=retry_after)
    err.headers = {"Retry-After": str(retry_after)}
    return err


def enforce(limiter: RateLimiter, name: str, rule: str, key: str) -> None:
    """Count a hit; raise the 429 when over the limit."""
    wait = limiter.hit(name, rule, key)
    if wait is not None:
        raise too_many(wait)
