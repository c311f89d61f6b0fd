"""Application factory: routers, static pages, and the lifespan that builds shared state."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

import migrations
from api import supervision
from api.channels.wechat.setup import start_wechat, stop_wechat
from api.conversation.gateway import Gateway
from api.conversation.rasa_client import RasaClient
from api.core.config import Settings, get_settings
from api.core.db import get_engine, get_sessionmaker
from api.core.errors import install_error_handlers
from api.core.logging_setup import configure_logging
from api.core.ratelimit import RateLimiter
from api.core.web_security import install_web_security
from api.handoff.hub import Hub, RedisHub
from api.handoff.service import HandoffService
from api.routes import agent, auth, chat, handoff, health, insights, internal_kb, kb, wechat
from api.staff import seed_demo_users
from knowledge_base.search.reloader import Reloader
from knowledge_base.search.service import KnowledgeService

STATIC = Path(__file__).parent / "static"
logger = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build Rasa client, gateway and retrieval once per process; close them on shutdown."""
    settings: Settings = app.state.settings
    configure_logging(settings.log_level, settings.secret_values())
    # The schema is the migrations' job (`python -m api migrate`); refuse to run on an old one.
    migrations.check_current("service", get_engine())
    for warning in settings.single_process_parts():
        logger.warning("production mode: %s", warning)
    # a warm standby taking over holds the loaded KB and has seeded the demo accounts in its
    # warm-up (api/supervision.py): the takeover skips both (seconds each on a busy machine)
    warm_kb = supervision.adopt_warm_kb(settings.kb_config())
    if warm_kb is None:
        seed_demo_users(get_sessionmaker(), settings)
    app.state.rasa = RasaClient(settings)
    app.state.limiter = RateLimiter(settings.rate_limit_storage_url)
    hub = (RedisHub(settings.hub_redis_url, settings.hub_redis_channel)
           if settings.hub_redis_url else Hub())  # several API replicas: Redis pub/sub
    if isinstance(hub, RedisHub):
        await hub.start()
    desk = HandoffService(get_sessionmaker(), settings, hub)
    kb_config = settings.kb_config()
    app.state.kb = warm_kb or KnowledgeService(kb_config)
    # the KB answers in degraded mode when the bot is slow or down
    app.state.gateway = Gateway(get_sessionmaker(), app.state.rasa, desk, app.state.kb,
                                max_bot_inflight=settings.bot_max_inflight,
                                max_degraded_inflight=settings.degraded_max_inflight,
                                retry_after=settings.busy_retry_after_seconds)
    sweeper = asyncio.create_task(desk.run_sweeper())  # queue timeouts -> leave a message
    app.state.kb_reloader = Reloader(app.state.kb)
    app.state.kb.start_background()
    kb_watch = (asyncio.create_task(app.state.kb_reloader.watch(
        kb_config, settings.kb_release_poll_seconds))
        if settings.kb_release_poll_seconds > 0 else None)  # releases of other processes
    start_wechat(app, settings)  # after the gateway: WeChat answers through it
    try:
        yield
    finally:
        await stop_wechat(app)
        sweeper.cancel()
        if kb_watch is not None:
            kb_watch.cancel()
        await app.state.rasa.aclose()
        if isinstance(hub, RedisHub):
            await hub.stop()
        # Cancel and wait for background builds: killed inside torch at exit, a daemon thread
        # aborts the whole process.
        await asyncio.to_thread(app.state.kb.close)
        await asyncio.to_thread(app.state.kb_reloader.stop)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Create the FastAPI app (uvicorn calls this as a factory)."""
    app = FastAPI(
        title="信用卡智能客服 API",
        description="Gateway of the Chinese credit-card customer-service assistant.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings or get_settings()
    install_error_handlers(app)
    install_web_security(app, app.state.settings)
    for module in (chat, handoff, wechat, health, internal_kb, auth, agent, kb, insights):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def chat_page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/agent", include_in_schema=False)
    async def agent_console() -> FileResponse:
        return FileResponse(STATIC / "agent.html")

    @app.get("/ops", include_in_schema=False)
    async def ops_console() -> FileResponse:
        return FileResponse(STATIC / "ops.html")

    @app.get("/ops/insights", include_in_schema=False)
    async def insights_dashboard() -> FileResponse:
        return FileResponse(STATIC / "insights.html")

    return app
