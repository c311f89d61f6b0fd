"""GET /health: each component's state; 503 when any is down."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api import supervision
from api.conversation.rasa_client import RasaUnavailable

router = APIRouter(tags=["health"])


async def _rasa(request: Request) -> dict[str, Any]:
    try:
        status = await request.app.state.rasa.status()
        out = {"state": "up", "model": status.get("model_id")}
        if "servers" in status:  # a warm standby: up while either Rasa answers
            out.update(servers=status["servers"], failovers=status["failovers"])
        return out
    except RasaUnavailable as exc:
        return {"state": "down", "error": str(exc)}


async def _actions(request: Request) -> dict[str, Any]:
    url = request.app.state.settings.actions_url.rsplit("/webhook", 1)[0] + "/health"
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            resp = await client.get(url)
        return {"state": "up"} if resp.status_code == 200 else {
            "state": "down", "error": f"status {resp.status_code}"}
    except httpx.HTTPError as exc:
        return {"state": "down", "error": type(exc).__name__}


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """Report rasa, actions and retrieval (and supervised processes); HTTP 503 if one of
    rasa, actions or retrieval is not up."""
    rasa, actions = await asyncio.gather(_rasa(request), _actions(request))
    components = {"rasa": rasa, "actions": actions, "retrieval": request.app.state.kb.status()}
    # the bot's circuit breaker: open means chat turns are answered in degraded mode
    rasa["breaker"] = request.app.state.rasa.breaker.snapshot()
    # load shedding: bot turns this process lets in flight now (api/conversation/limiter.py)
    rasa["limit"] = request.app.state.gateway.bot_limit.snapshot()
    healthy = all(c["state"] == "up" for c in components.values())
    body: dict[str, Any] = {"status": "ok" if healthy else "degraded", "components": components}
    # Under `make run` (supervisord): each process's state and restart count.
    procs = await asyncio.to_thread(
        supervision.processes, request.app.state.settings.data_dir.resolve() / "supervisor",
        os.getpid())
    if procs is not None:
        body["processes"] = procs
    return JSONResponse(status_code=200 if healthy else 503, content=body)
