"""access_token caching/refresh and error handling of the customer-service client, against the
real local fake WeChat server."""

from __future__ import annotations

import asyncio
import logging

import pytest
from wechat_fakes import APP_ID, APP_SECRET, FakeWeChat

from api.channels.wechat.client import (
    OutsideServiceWindow,
    RedactSecretsFilter,
    WeChatApiClient,
    WeChatApiError,
)

TEXT = {"touser": "oUser", "msgtype": "text", "text": {"content": "您好"}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(fake: FakeWeChat, clock: Clock, secret: str = APP_SECRET) -> WeChatApiClient:
    return WeChatApiClient(fake.url, APP_ID, secret, refresh_margin=300, clock=clock)


def test_token_is_cached_and_refreshed_before_expiry(fake_wechat: FakeWeChat) -> None:
    clock = Clock()

    async def run() -> list[str]:
        client = make(fake_wechat, clock)
        try:
            tokens = [await client.access_token(), await client.access_token()]
            clock.now += 7200 - 300 - 1  # just before the refresh point
            tokens.append(await client.access_token())
            clock.now += 2  # inside the margin: refreshed although still valid at WeChat
            tokens.append(await client.access_token())
            return tokens
        finally:
            await client.aclose()

    assert asyncio.run(run()) == ["TOKEN-1", "TOKEN-1", "TOKEN-1", "TOKEN-2"]
    assert len(fake_wechat.token_requests) == 2
    assert fake_wechat.token_requests[0] == {"grant_type": "client_credential", "appid": APP_ID,
                                             "secret": APP_SECRET}


def test_concurrent_callers_share_one_token_fetch(fake_wechat: FakeWeChat) -> None:
    async def run() -> set[str]:
        client = make(fake_wechat, Clock())
        try:
            return set(await asyncio.gather(*(client.access_token() for _ in range(8))))
        finally:
            await client.aclose()

    assert asyncio.run(run()) == {"TOKEN-1"}
    assert len(fake_wechat.token_requests) == 1


def test_expired_token_is_refetched_once_then_errors_surface(fake_wechat: FakeWeChat) -> None:
    async def run() -> None:
        client = make(fake_wechat, Clock())
        try:
            fake_wechat.send_errors = [42001]
            await client.send_custom(TEXT)  # refetch + retry succeeds
            assert len(fake_wechat.token_requests) == 2 and len(fake_wechat.sent) == 1
            fake_wechat.send_errors = [40001, 40001]  # still refused after refetching
            with pytest.raises(WeChatApiError) as exc:
                await client.send_custom(TEXT)
            assert exc.value.errcode == 40001
            assert fake_wechat.send_attempts == 4  # one retry, no loop
            fake_wechat.closed_window.add("oUser")
            with pytest.raises(OutsideServiceWindow):
                await client.send_custom(TEXT)
            # the cached token had been revoked by the last 40001: one refetch, then 45015,
            # which is final (not retried)
            assert fake_wechat.send_attempts == 6 and len(fake_wechat.token_requests) == 4
            with pytest.raises(OutsideServiceWindow):
                await client.send_custom(TEXT)
            assert fake_wechat.send_attempts == 7 and len(fake_wechat.token_requests) == 4
        finally:
            await client.aclose()

    asyncio.run(run())


def test_wrong_secret_and_unreachable_server_raise_api_errors(fake_wechat: FakeWeChat) -> None:
    async def run() -> None:
        client = make(fake_wechat, Clock(), secret="wrong")
        try:
            with pytest.raises(WeChatApiError) as exc:
                await client.send_custom(TEXT)
            assert exc.value.errcode == 40013
        finally:
            await client.aclose()
        down = WeChatApiClient("http://127.0.0.1:9", APP_ID, APP_SECRET, timeout=2)
        try:
            with pytest.raises(WeChatApiError):
                await down.access_token()
        finally:
            await down.aclose()

    asyncio.run(run())
    assert fake_wechat.sent == []


def test_credentials_never_reach_the_logs() -> None:
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, 'HTTP Request: %s %s "%s"',
        ("GET", "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential"
                "&appid=wx1&secret=s3cr3t", "HTTP/1.1 200 OK"), None)
    assert RedactSecretsFilter().filter(record)
    assert "s3cr3t" not in record.getMessage() and "secret=***" in record.getMessage()
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "POST %s",
                               ("https://x/cgi-bin/message/custom/send?access_token=AbC-1",),
                               None)
    RedactSecretsFilter().filter(record)
    assert record.getMessage() == "POST https://x/cgi-bin/message/custom/send?access_token=***"
