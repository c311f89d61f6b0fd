"""Browser-side safety of every response: CORS allow-list, CSP with a frame-ancestors
allow-list, nosniff, Referrer-Policy, no caching of API answers, a request-body limit, and
the client address behind a trusted reverse proxy.

Installed by `api.main.create_app` from the settings (`ALLOWED_ORIGINS`, `FRAME_ANCESTORS`,
`MAX_BODY_BYTES`, `TRUSTED_PROXIES`). The service itself sets no cookies (consoles and widget
use bearer tokens); `cookie_flags` is what any cookie it sets must carry.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.core.config import Settings

# Swagger UI and ReDoc load their bundles from a CDN with inline bootstrapping: no page CSP.
DOCS_PATHS = ("/docs", "/redoc")
# Routes with their own body limit: the KB upload (KB_IMPORT_MAX_BYTES) and WeChat's callbacks
# (WECHAT_MAX_BODY_BYTES, answered with WeChat's own error codes).
UPLOAD_PATHS = ("/api/v1/kb/import", "/wechat")


def content_security_policy(settings: Settings) -> str:
    """The pages' CSP: own scripts and styles only, framing by the allow-list only."""
    ancestors = " ".join(["'self'", *settings.frame_ancestor_list])
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
            f"form-action 'self'; frame-ancestors {ancestors}")


def cookie_flags(settings: Settings) -> dict[str, Any]:
    """Flags of any cookie the service sets (Secure outside development on plain loopback)."""
    return {"httponly": True, "samesite": "strict", "secure": settings.app_env == "production"}


class SecurityHeaders:
    """Adds the security headers to every HTTP response (pure ASGI: WebSockets untouched)."""

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.csp = csp.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"strict-origin-when-cross-origin")]
                if not path.startswith(DOCS_PATHS):
                    headers.append((b"content-security-policy", self.csp))
                if path.startswith("/api/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """413 with the bilingual error body for request bodies over `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(UPLOAD_PATHS):
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(send)
            return
        # Read the whole (small) body first, so an over-long chunked body is refused before
        # the app sees any of it; then replay it.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            if received > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": {
            "code": "body_too_large", "message": "请求内容太大了。",
            "message_en": f"Request body exceeds {self.max_bytes} bytes."}},
            ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def install_web_security(app: FastAPI, settings: Settings) -> None:
    """Body limit, security headers, (with ALLOWED_ORIGINS) CORS and (with TRUSTED_PROXIES) the
    client address from X-Forwarded-For on the app."""
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, csp=content_security_policy(settings))
    if settings.allowed_origin_list:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.allowed_origin_list, allow_credentials=False,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match"], max_age=600)
    if settings.trusted_proxy_list:
        # Added last, so outermost: every limit and log line sees the client, not the proxy.
        # From a listed peer the client is the right-most X-Forwarded-For hop that is not a
        # listed proxy (what nginx's $proxy_add_x_forwarded_for appended), so a client's own
        # X-Forwarded-For entries, further left, are never taken; from any other peer the
        # header is ignored. Here and not in uvicorn (`python -m api` turns its proxy headers
        # off): one setting decides, the same under every server and in the tests.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
