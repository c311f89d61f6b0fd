"""Talks to the Rasa server: REST channel for messages, token-protected HTTP API for the rest.

Rasa's HTTP API is called with `Authorization: Bearer <JWT>` (HS256, signed with RASA_TOKEN,
role admin, a few minutes of validity), never with the token in the URL: URLs end up in logs.
`bot/serve.py` starts Rasa with RASA_TOKEN as its JWT secret.

Every call of the conversation path is bounded by the bot budget (`BOT_BUDGET_SECONDS`) and goes
through one circuit breaker (`api/conversation/breaker.py`): while the breaker is open, calls
fail at once with `RasaUnavailable` and the gateway answers in degraded mode. A reply with no
message at all counts as a failure too: that is what Rasa sends when the action server is down
or failing. `status()` (the health check) bypasses the breaker so it always tells the truth.

With a warm standby Rasa (`RASA_STANDBY_URL`, started by `make run`'s supervisor on the same
tracker store) a call that cannot reach the primary goes to the standby at once: killing one
Rasa never leaves the chat without its bot while the supervisor restarts it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from api.conversation.breaker import CLOSED, CircuitBreaker
from api.core.config import Settings

logger = logging.getLogger(__name__)
JWT_TTL_SECONDS = 300
JWT_RENEW_SECONDS = 60
# The server of the request in flight, per call (each request is its own task/context).
_CURRENT: contextvars.ContextVar[_Server | None] = contextvars.ContextVar("rasa_server",
                                                                          default=None)


def rasa_jwt(secret: str, now: float | None = None, ttl: int = JWT_TTL_SECONDS) -> str:
    """A short-lived admin JWT for Rasa's HTTP API (sanic-jwt reads `user.username/role`)."""
    now = time.time() if now is None else now
    claims = {"user": {"username": "cardbot-gateway", "role": "admin"},
              "username": "cardbot-gateway", "iat": int(now), "exp": int(now) + ttl}
    return jwt.encode(claims, secret, algorithm="HS256")


class RasaUnavailable(Exception):
    """Rasa did not answer (down, timed out, or returned an error)."""


class _NotReached(RasaUnavailable):
    """The request never reached that Rasa server (connection refused or not established): it
    did not see the message, so another server may take it without a duplicate turn."""


@dataclass
class _Server:
    """One Rasa server; ``breaker`` only routes between servers (None with a single one)."""

    name: str
    client: httpx.AsyncClient
    breaker: CircuitBreaker | None = None


class RasaClient:
    """Async client for the Rasa server, with failover to a warm standby when one is set.

    Both servers share the tracker store, so either can take any conversation. A call goes to
    the primary; when it cannot even connect (killed, restarting, still loading its model) the
    same call goes to the standby at once, within the same budget. A server that times out or
    errors is skipped after ``bot_breaker_failures`` such failures (its own breaker) until a
    probe finds it back. Only a request that never reached a server is re-sent: one that may
    have been processed (timeout mid-reply, 5xx) is not, or the turn could be applied twice.
    """

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None,
                 breaker: CircuitBreaker | None = None,
                 standby_client: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self._jwt = ""
        self._jwt_exp = 0.0
        self._client = client or httpx.AsyncClient(
            base_url=settings.rasa_url, timeout=settings.rasa_timeout
        )
        self._servers = [_Server("primary", self._client)]
        if standby_client is None and settings.rasa_standby_url:
            standby_client = httpx.AsyncClient(base_url=settings.rasa_standby_url,
                                               timeout=settings.rasa_timeout)
        if standby_client is not None:
            self._servers.append(_Server("standby", standby_client))
            for server in self._servers:
                server.breaker = CircuitBreaker(settings.bot_breaker_failures,
                                                settings.bot_breaker_reset_seconds)
        self.budget = min(settings.bot_budget_seconds, settings.rasa_timeout)
        self.inflight = 0  # messages sent and not answered yet (load shedding in the gateway)
        self.failovers = 0  # calls a later server took because an earlier one was unreachable
        self.breaker = breaker or CircuitBreaker(settings.bot_breaker_failures,
                                                 settings.bot_breaker_reset_seconds)

    def _rerouted(self) -> bool:
        """The call failed on a server that its breaker has just taken out of rotation while
        another server is still in it: the next calls go there, so the bot as a whole is not
        failing (its breaker does not count this one, or it would open together with the
        server's and answer degraded although the standby is fine)."""
        failed = _CURRENT.get()
        if failed is None or failed.breaker is None or failed.breaker.state == CLOSED:
            return False
        return any(s.breaker is not None and s.breaker.state == CLOSED
                   for s in self._servers if s is not failed)

    async def _on(self, server: _Server, method: str, path: str, *, empty_is_failure: bool,
                  **kwargs: Any) -> httpx.Response:
        """One request to one server; settles that server's routing breaker."""
        _CURRENT.set(server)
        alive = False  # the server itself worked (an empty reply is the action server's fault)
        error = "no reply within the budget"
        try:
            try:
                resp = await server.client.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                error = f"{server.name}: {type(exc).__name__}: {exc}"
                raise _NotReached(error) from exc
            except httpx.HTTPError as exc:
                error = f"{server.name}: {type(exc).__name__}: {exc}"
                raise RasaUnavailable(error) from exc
            if resp.status_code >= 500:
                error = f"Rasa {path} returned {resp.status_code}"
                raise RasaUnavailable(error)
            alive = True
            if resp.status_code >= 400:
                raise RasaUnavailable(f"Rasa {path} returned {resp.status_code}")
            if empty_is_failure and resp.content.strip() in (b"", b"[]"):
                raise RasaUnavailable("empty reply (action server down or failing?)")
            return resp
        finally:
            # settled also on cancellation (the budget), or a half-open probe would hang
            if server.breaker is not None:
                if alive:
                    server.breaker.success()
                else:
                    server.breaker.failure(error)

    async def _failover(self, method: str, path: str, *, empty_is_failure: bool,
                        **kwargs: Any) -> httpx.Response:
        """The call on the first server that takes it (see the class docstring)."""
        unreached: list[str] = []
        tried = 0
        for server in self._servers:
            # allow() is asked only right before a server is used: a half-open breaker hands
            # out its single probe there, and _on() always settles it.
            if server.breaker is not None and not server.breaker.allow():
                continue
            tried += 1
            try:
                resp = await self._on(server, method, path,
                                      empty_is_failure=empty_is_failure, **kwargs)
            except _NotReached as exc:
                unreached.append(str(exc))
                continue
            if server is not self._servers[0]:
                self.failovers += 1
            return resp
        if tried == 0:
            # every server's breaker is open, yet the bot breaker let this call through (its
            # own probe): ask them in order rather than refuse without asking anyone
            for server in self._servers:
                try:
                    return await self._on(server, method, path,
                                          empty_is_failure=empty_is_failure, **kwargs)
                except _NotReached as exc:
                    unreached.append(str(exc))
        raise RasaUnavailable("; ".join(unreached) or "no Rasa server reachable")

    async def _guarded(self, method: str, path: str, *, empty_is_failure: bool = False,
                       **kwargs: Any) -> httpx.Response:
        """One call through the breaker (and the failover), bounded by the budget."""
        if not self.breaker.allow():
            raise RasaUnavailable(f"circuit open ({self.breaker.last_error})")
        ok = False
        error = "cancelled"
        _CURRENT.set(None)
        try:
            async with asyncio.timeout(self.budget):
                resp = await self._failover(method, path, empty_is_failure=empty_is_failure,
                                            **kwargs)
            ok = True
            return resp
        except TimeoutError as exc:
            error = f"no reply within the {self.budget:g} s budget"
            raise RasaUnavailable(error) from exc
        except RasaUnavailable as exc:
            error = str(exc)
            raise
        finally:
            # always settle the breaker (also on cancellation), or a half-open probe would hang
            if ok:
                self.breaker.success()
            elif not (self.breaker.state == CLOSED and self._rerouted()):
                self.breaker.failure(error)

    async def aclose(self) -> None:
        """Close the underlying connection pools."""
        for server in self._servers:
            await server.client.aclose()

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

    async def _server_status(self, server: _Server) -> dict[str, Any]:
        try:
            resp = await server.client.request("GET", "/status", headers=self._auth_header(),
                                               timeout=3)
        except httpx.HTTPError as exc:
            return {"state": "down", "error": f"{type(exc).__name__}: {exc}"}
        if resp.status_code >= 400:
            return {"state": "down", "error": f"Rasa /status returned {resp.status_code}"}
        data = resp.json()
        if not data.get("model_file"):
            return {"state": "down", "error": "Rasa has no model loaded"}
        return {"state": "up", "status": data}

    async def status(self) -> dict[str, Any]:
        """Rasa's /status (needs the token) of the first server that is up, plus ``servers``
        (each one's state) and ``failovers`` when there is a standby; raises when no server is
        up with a model. Bypasses the breakers, so the health check always tells the truth."""
        states = await asyncio.gather(*(self._server_status(s) for s in self._servers))
        up = [st["status"] for st in states if st["state"] == "up"]
        if not up:
            if len(states) == 1:
                raise RasaUnavailable(states[0]["error"])
            raise RasaUnavailable("; ".join(
                f"{srv.name}: {st['error']}" for srv, st in zip(self._servers, states,
                                                                strict=True)))
        data = dict(up[0])
        if len(self._servers) > 1:
            data["servers"] = {
                srv.name: {"state": st["state"],
                           **({"error": st["error"]} if "error" in st else {}),
                           "breaker": srv.breaker.snapshot() if srv.breaker else None}
                for srv, st in zip(self._servers, states, strict=True)}
            data["failovers"] = self.failovers
        return data

    async def append_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        """Append events (e.g. pause/resume, agent messages) to a conversation's tracker."""
        await self._api("POST", f"/conversations/{sender}/tracker/events", json=events)

    async def tracker(self, sender: str) -> dict[str, Any]:
        """The conversation's tracker as JSON."""
        return (await self._api("GET", f"/conversations/{sender}/tracker")).json()
