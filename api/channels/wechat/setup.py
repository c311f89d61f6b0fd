"""Build the WeChat channel in the app's lifespan (nothing happens at import)."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI

from api.channels.outbox import OutboxRegistry
from api.channels.relay import HandoffRelay
from api.channels.wechat.client import WeChatApiClient
from api.channels.wechat.menu import load_menu
from api.channels.wechat.service import CHANNEL, WeChatService, openid_hash
from api.core.config import Settings
from api.core.db import get_sessionmaker
from api.handoff.hub import Hub
from pii.masking import get_pipeline

_OPENID_QUERY = re.compile(r"(openid=)([A-Za-z0-9_-]+)")


class OpenIdLogFilter(logging.Filter):
    """Access-log lines of /wechat carry `openid=` in the query string: log its hash."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "openid=" in message:
            record.msg = _OPENID_QUERY.sub(lambda m: m.group(1) + openid_hash(m.group(2)),
                                           message)
            record.args = ()
        return True


def install_openid_redaction() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, OpenIdLogFilter) for f in access.filters):
        access.addFilter(OpenIdLogFilter())


def outboxes_of(app: FastAPI) -> OutboxRegistry:
    """The app's outbox registry (created on first use)."""
    registry = getattr(app.state, "outboxes", None)
    if registry is None:
        registry = app.state.outboxes = OutboxRegistry()
    return registry


def start_wechat(app: FastAPI, settings: Settings) -> WeChatService:
    """Create the service (after app.state.gateway exists) and register it as an outbox."""
    # WeChat gives each callback 5 s. The PII pipeline (every log line and stored message goes
    # through it) loads lazily in ~10 s: load it now, not inside the first callback.
    get_pipeline()
    api = WeChatApiClient(settings.wechat_api_base, settings.wechat_app_id,
                          settings.wechat_app_secret, timeout=settings.wechat_api_timeout,
                          refresh_margin=settings.wechat_token_refresh_margin_seconds)
    service = WeChatService(settings, get_sessionmaker(), app.state.gateway, api,
                            load_menu(settings.wechat_menu_file))
    install_openid_redaction()
    app.state.wechat = service
    outboxes = outboxes_of(app)
    outboxes.register(CHANNEL, service)
    hub = getattr(getattr(app.state.gateway, "handoff", None), "hub", None)
    if isinstance(hub, Hub):
        relay = getattr(app.state, "handoff_relay", None)
        if relay is None:
            relay = app.state.handoff_relay = HandoffRelay(hub, outboxes, get_sessionmaker())
        service.relay = relay
        relay.resume()
    return service


async def stop_wechat(app: FastAPI) -> None:
    """Stop relaying, let pending pushes finish, close the API client."""
    relay = getattr(app.state, "handoff_relay", None)
    if relay is not None:
        await relay.aclose()
    await outboxes_of(app).aclose()
    await app.state.wechat.aclose()
