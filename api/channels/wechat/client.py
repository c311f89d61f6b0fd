"""WeChat server API client: access_token cache and the customer-service message API.

`GET /cgi-bin/token` gives a token valid for `expires_in` seconds (7200); it is cached and
refreshed `refresh_margin` seconds before it expires. A send that fails with 40001 / 40014 /
42001 (token invalid or expired, e.g. another process fetched a new one) drops the cached
token, fetches a new one and retries once. 45015 means the cardholder has not written to the
account within the last 48 hours: the message cannot be delivered and is not retried.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

logger = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
OUTSIDE_WINDOW = 45015
_SECRET_QUERY = re.compile(r"((?:secret|access_token)=)[^&\s\"']+")


class WeChatApiError(Exception):
    """WeChat answered with a non-zero errcode (or not at all)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class OutsideServiceWindow(WeChatApiError):
    """45015: outside the 48-hour customer-service window (or the user unsubscribed)."""


class RedactSecretsFilter(logging.Filter):
    """Remove `secret=` and `access_token=` values from httpx's request log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "secret=" in message or "access_token=" in message:
            record.msg = _SECRET_QUERY.sub(r"\1***", message)
            record.args = ()
        return True


def install_secret_redaction() -> None:
    """httpx logs every request URL at INFO; WeChat puts credentials in the query string."""
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactSecretsFilter) for f in httpx_logger.filters):
        httpx_logger.addFilter(RedactSecretsFilter())


class WeChatApiClient:
    """Async client for one Official Account (app id + secret)."""

    def __init__(self, api_base: str, app_id: str, app_secret: str, *, timeout: float = 10.0,
                 refresh_margin: float = 300.0, client: httpx.AsyncClient | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._app_id = app_id
        self._app_secret = app_secret
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._client = client or httpx.AsyncClient(base_url=api_base.rstrip("/"),
                                                   timeout=timeout)
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        install_secret_redaction()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def access_token(self) -> str:
        """The cached token, fetched (once, even under concurrency) when missing or due."""
        async with self._lock:
            if self._token is not None and self._clock() < self._refresh_at:
                return self._token
            data = await self._call("GET", "/cgi-bin/token", params={
                "grant_type": "client_credential", "appid": self._app_id,
                "secret": self._app_secret})
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise WeChatApiError(int(data.get("errcode") or -1),
                                     str(data.get("errmsg") or "no access_token in response"))
            try:
                expires_in = max(1, int(data.get("expires_in", 7200)))
            except (TypeError, ValueError):
                expires_in = 7200
            margin = min(self._refresh_margin, expires_in / 2)
            self._token = token
            self._refresh_at = self._clock() + expires_in - margin
            logger.info("fetched a WeChat access_token valid for %ss", expires_in)
            return token

    def invalidate(self, token: str) -> None:
        """Forget `token` (if it is still the cached one) so that the next call refetches."""
        if self._token == token:
            self._token = None

    async def send_custom(self, payload: dict[str, Any]) -> None:
        """POST one customer-service message; raises WeChatApiError / OutsideServiceWindow."""
        for attempt in range(2):
            token = await self.access_token()
            data = await self._call("POST", "/cgi-bin/message/custom/send",
                                    params={"access_token": token},
                                    content=json.dumps(payload, ensure_ascii=False)
                                    .encode("utf-8"),
                                    headers={"Content-Type": "application/json; charset=utf-8"})
            code = int(data.get("errcode") or 0)
            if code == 0:
                return
            errmsg = str(data.get("errmsg") or "")
            if code in TOKEN_ERRORS and attempt == 0:
                logger.warning("WeChat rejected the access_token (errcode %s); refetching", code)
                self.invalidate(token)
                continue
            if code == OUTSIDE_WINDOW:
                raise OutsideServiceWindow(code, errmsg)
            raise WeChatApiError(code, errmsg)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            resp = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise WeChatApiError(-1, f"{type(exc).__name__} calling WeChat {path}") from exc
        if resp.status_code != 200:
            raise WeChatApiError(-1, f"HTTP {resp.status_code} from WeChat {path}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise WeChatApiError(-1, f"non-JSON answer from WeChat {path}") from exc
        if not isinstance(data, dict):
            raise WeChatApiError(-1, f"unexpected answer from WeChat {path}")
        return data
