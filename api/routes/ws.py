"""Shared WebSocket loop: push a hub subscription to the client until either side closes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from api.handoff.hub import Subscription

logger = logging.getLogger(__name__)
PING_SECONDS = 25.0


async def serve(ws: WebSocket, sub: Subscription, backlog: Iterable[dict[str, Any]] = ()) -> None:
    """Send `backlog`, then every event of `sub`; answer client pings; stop on disconnect."""

    async def sender() -> None:
        for event in backlog:
            await ws.send_json(event)
        while True:
            try:
                event = await asyncio.wait_for(sub.get(), timeout=PING_SECONDS)
            except TimeoutError:
                event = {"type": "ping"}
            await ws.send_json(event)

    async def receiver() -> None:
        while True:
            text = await ws.receive_text()
            try:
                data = json.loads(text)
            except ValueError:
                continue
            if isinstance(data, dict) and data.get("type") == "ping":
                await ws.send_json({"type": "pong"})

    tasks = [asyncio.create_task(sender()), asyncio.create_task(receiver())]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, WebSocketDisconnect | RuntimeError):
                logger.warning("WebSocket closed after %s", type(exc).__name__)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        sub.close()
        if ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close()
