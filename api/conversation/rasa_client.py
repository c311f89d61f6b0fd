"""Talks to the Rasa server: REST channel for messages, token-protected HTTP API for the rest.

Rasa's HTTP API is called with `Authorization: Bearer <JWT>` (HS256, signed with RASA_TOKEN,
role admin, a few minutes of validity), never with the token in the URL: URLs end up in logs.
`bot/serve.py` starts Rasa with RASA_TOKEN as its JWT secret.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import jwt

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

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self._jwt = ""
        self._jwt_exp = 0.0
        self._client = client or httpx.AsyncClient(
            base_url=settings.rasa_url, timeout=settings.rasa_timeout
        )

    async def aclose(self) -> None:
        """Close the underlying connection pool."""
        await self._client.aclose()

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        """Send a user message through Rasa's REST channel; return Rasa's bot messages."""
        try:
            resp = await self._client.post(
                "/webhooks/rest/webhook",
                json={"sender": sender, "message": text, "metadata": metadata},
            )
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code != 200:
            raise RasaUnavailable(f"Rasa returned {resp.status_code}")
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
        data = (await self._api("GET", "/status")).json()
        if not data.get("model_file"):
            raise RasaUnavailable("Rasa has no model loaded")
        return data

    async def append_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        """Append events (e.g. pause/resume, agent messages) to a conversation's tracker."""
        await self._api("POST", f"/conversations/{sender}/tracker/events", json=events)

    async def tracker(self, sender: str) -> dict[str, Any]:
        """The conversation's tracker as JSON."""
        return (await self._api("GET", f"/conversations/{sender}/tracker")).json()
