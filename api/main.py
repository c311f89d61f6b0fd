"""Application factory: routers, static pages, and the lifespan that builds shared state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from knowledge_base.service import KnowledgeService

from api.channels import web
from api.db import get_sessionmaker, init_db
from api.errors import install_error_handlers
from api.gateway import Gateway
from api.logging_setup import configure_logging
from api.rasa_client import RasaClient
from api.routers import health, internal_kb
from api.settings import Settings, get_settings

STATIC = Path(__file__).parent / "static"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build DB, Rasa client, gateway and retrieval once per process; close them on shutdown."""
    settings: Settings = app.state.settings
    configure_logging(settings.log_level)
    init_db()
    app.state.rasa = RasaClient(settings)
    app.state.gateway = Gateway(get_sessionmaker(), app.state.rasa)
    app.state.kb = KnowledgeService(settings)
    app.state.kb.start_background()
    try:
        yield
    finally:
        await app.state.rasa.aclose()
        app.state.kb.close()


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
    app.include_router(web.router)
    app.include_router(health.router)
    app.include_router(internal_kb.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def chat_page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app
