"""Talks to the Rasa server: REST channel for messages, token-protected HTTP API for the rest.

Rasa's HTTP API is called with `Authorization: Bearer <JWT>` (HS256, signed with RASA_TOKEN,
role admin, a few minutes of validity), never with the token in the URL: URLs end up in logs.
`bot/serve.py` starts Rasa with RASA_TOKEN as its JWT secret.

Every call of the conversation path is bounded by the bot budget (`BOT_BUDGET_SECONDS`) and goes
through one circuit breaker (`api/conversation/breaker.py`): while the breaker is open, calls
fail at once with `RasaUnavailable` and the gateway answers in degraded mode. A reply with no
message at all counts as a failure too: that is what Rasa sends when the action server is down
or failing. `status()` (the health check) bypasses the breaker so it always tells the truth.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import jwt

from api.conversation.breaker import CircuitBreaker
from api.core.config import Settings

logger = logging.getLogger(__name__)
JWT_TTL_SECONDS = 300
JWT_RENEW_SECONDS = 60


def rasa_jwt(secret: str, now: float | None = None, ttl: int = JWT_TTL_SECONDS) -> str:
    """A short-lived admin JWT for Rasa's HTTP API (sanic-jwt reads `user.username/role`)."""
    now = time.time() if now is None else now
    claims = {"user": {"username": "cardbot-gateway", "role": "admin"},
              "username": "cardbot-gateway", "iat": int(now), "exp": int(now) + ttl}
    return jwt.encode(claims, secret, algorithm="HS256")


class RasaUnavailable(Exception):
    """Rasa did not answer (down, timed out, or returned an error)."""


class RasaClient:
    """Async client for one Rasa server."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None,
                 breaker: CircuitBreaker | None = None) -> None:
        self._settings = settings
        self._jwt = ""
        self._jwt_exp = 0.0
        self._client = client or httpx.AsyncClient(
            base_url=settings.rasa_url, timeout=settings.rasa_timeout
        )
        self.budget = min(settings.bot_budget_seconds, settings.rasa_timeout)
        self.inflight = 0  # messages sent and not answered yet (load shedding in the gateway)
        self.breaker = breaker or CircuitBreaker(settings.bot_breaker_failures,
                                                 settings.bot_breaker_reset_seconds)

    async def _guarded(self, method: str, path: str, *, empty_is_failure: bool = False,
                       **kwargs: Any) -> httpx.Response:
        """One call through the breaker, bounded by the budget."""
        if not self.breaker.allow():
            raise RasaUnavailable(f"circuit open ({self.breaker.last_error})")
        ok = False
        error = "cancelled"
        try:
            async with asyncio.timeout(self.budget):
                resp = await self._client.request(method, path, **kwargs)
            if resp.status_code >= 400:
                error = f"Rasa {path} returned {resp.status_code}"
                raise RasaUnavailable(error)
            if empty_is_failure and resp.content.strip() in (b"", b"[]"):
                error = "empty reply (action server down or failing?)"
                raise RasaUnavailable(error)
            ok = True
            return resp
        except TimeoutError as exc:
            error = f"no reply within the {self.budget:g} s budget"
            raise RasaUnavailable(error) from exc
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise RasaUnavailable(error) from exc
        finally:
            # always settle the breaker (also on cancellation), or a half-open probe would hang
            if ok:
                self.breaker.success()
            else:
                self.breaker.failure(error)

    async def aclose(self) -> None:
        """Close the underlying connection pool."""
        await self._client.aclose()

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        """Send a user message through Rasa's REST channel; return Rasa's bot messages."""
        self.inflight += 1
        try:
            resp = await self._guarded(
                "POST", "/webhooks/rest/webhook", empty_is_failure=True,
                json={"sender": sender, "message": text, "metadata": metadata})
        finally:
            self.inflight -= 1
        data = resp.json()
        if not isinstance(data, list):
            raise RasaUnavailable("unexpected Rasa response")
        return data

    def _auth_header(self) -> dict[str, str]:
        now = time.time()
        if now > self._jwt_exp - JWT_RENEW_SECONDS:
            self._jwt = rasa_jwt(self._settings.rasa_token, now)
            self._jwt_exp = now + JWT_TTL_SECONDS
        return {"Authorization": f"Bearer {self._jwt}"}

    async def _api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Authenticated HTTP API call through the breaker and the budget."""
        return await self._guarded(method, path, headers=self._auth_header(), **kwargs)

    async def _api_unguarded(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = await self._client.request(method, path, headers=self._auth_header(),
                                              **kwargs)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 400:
            raise RasaUnavailable(f"Rasa {path} returned {resp.status_code}")
        return resp

    async def status(self) -> dict[str, Any]:
        """Rasa's /status (needs the token); raises when Rasa is down or has no model."""
        data = (await self._api_unguarded("GET", "/status", timeout=3)).json()
        if not data.get("model_file"):
            raise RasaUnavailable("Rasa has no model loaded")
        return data

    async def append_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        """Append events (e.g. pause/resume, agent messages) to a conversation's tracker."""
        await self._api("POST", f"/conversations/{sender}/tracker/events", json=events)

    async def tracker(self, sender: str) -> dict[str, Any]:
        """The conversation's tracker as JSON."""
        return (await self._api("GET", f"/conversations/{sender}/tracker")).json()
