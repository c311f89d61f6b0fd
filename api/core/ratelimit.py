"""Rate limits on top of the `limits` library (moving windows; memory:// or redis:// storage).

One `RateLimiter` per API process (built in the lifespan, `app.state.limiter`); with a Redis
URL every process shares the counters. Over a limit, `enforce` raises a 429 `ApiError` with a
bilingual message and `Retry-After`.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from api.core.errors import ApiError

logger = logging.getLogger(__name__)
KEY_PREFIX = "cardbot-ratelimit"


class RateLimiter:
    """Named, keyed limits: `hit("chat_user", "20/minute", user_id)`."""

    def __init__(self, storage_url: str) -> None:
        options = {"key_prefix": KEY_PREFIX} if storage_url.startswith(("redis", "rediss")) else {}
        self._storage = storage_from_string(storage_url, **options)
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
