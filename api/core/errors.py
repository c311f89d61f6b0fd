"""Clear 4xx errors: Chinese for the cardholder, English for the developer.

Domain services (handoff, KB editing, retrieval) raise domain errors and know nothing about
HTTP; this module is the one place that turns them into responses:

* `vocab.DomainError` -> status by its `kind` (`STATUS`), body `{"detail": {code, message,
  message_en, **extra}}`;
* the retrieval service's `KBNotReady` -> 503 `kb_unavailable`, `UnknownEntry` -> 404;
* request validation failures (including non-JSON bodies) -> bilingual 422;
* the router's own errors (an unknown path, a method the path does not take) -> the same
  bilingual shape (`not_found`, `method_not_allowed`), headers such as `Allow` kept;
* a lost database connection (PostgreSQL restarting) -> 503 `database_unavailable` with
  Retry-After.

Routes raise `ApiError` themselves only for HTTP-level problems (a missing If-Match, an upload
over the size limit, a bad bearer token).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from knowledge_base.search.service import KBNotReady, UnknownEntry
from vocab import DomainError, ErrorKind

STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.BUSY: 429,  # with Retry-After (never a 5xx for load: issue 17)
}


def error_body(code: str, message_zh: str, message_en: str, **extra: Any) -> dict[str, Any]:
    """The error shape every endpoint uses."""
    return {"detail": {"code": code, "message": message_zh, "message_en": message_en, **extra}}


class ApiError(HTTPException):
    """An HTTP error with a bilingual message."""

    def __init__(self, status_code: int, code: str, message_zh: str, message_en: str,
                 **extra: Any) -> None:
        super().__init__(status_code, error_body(code, message_zh, message_en, **extra)["detail"])


def as_api_error(exc: Exception) -> ApiError:
    """The HTTP form of a domain error (also used where no handler runs, e.g. WebSockets)."""
    if isinstance(exc, DomainError):
        err = ApiError(STATUS[exc.kind], exc.code, exc.message, exc.message_en, **exc.extra)
        if exc.kind == ErrorKind.BUSY:
            err.headers = {"Retry-After": str(int(exc.extra.get("retry_after", 1)))}
        return err
    if isinstance(exc, UnknownEntry):
        entry_id = exc.args[0] if exc.args else ""
        return ApiError(404, "kb_entry_not_found", "未找到该知识条目。",
                        f"Unknown KB entry id: {entry_id}")
    if isinstance(exc, KBNotReady):
        return ApiError(503, "kb_unavailable", "知识库正在加载或暂不可用，请稍后再试。",
                        f"Knowledge base not ready: {exc}")
    raise TypeError(f"not a domain error: {type(exc).__name__}")


# Errors Starlette raises itself (plain-text detail): their bilingual form, by status.
ROUTER_ERRORS: dict[int, tuple[str, str, str]] = {
    404: ("not_found", "页面不存在。", "Not found."),
    405: ("method_not_allowed", "不支持这种请求方式。", "Method not allowed for this path."),
}


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors and validation failures (incl. non-JSON bodies) to bilingual JSON."""

    async def _domain(_request: Request, exc: Exception) -> JSONResponse:
        err = as_api_error(exc)
        return JSONResponse(status_code=err.status_code, content={"detail": err.detail},
                            headers=err.headers)

    for kind in (DomainError, UnknownEntry, KBNotReady):
        app.add_exception_handler(kind, _domain)

    async def _database(_request: Request, exc: Exception) -> JSONResponse:
        # Only reached once the chat path's retries (api/core/db.py) are spent, or on a route
        # without them: the database is down, not the request wrong.
        body = error_body("database_unavailable", "服务暂时繁忙，请稍后几秒再试。",
                          "The database is briefly unavailable; please retry shortly.")
        return JSONResponse(status_code=503, content=body, headers={"Retry-After": "2"})

    for db_kind in (OperationalError, InterfaceError):
        app.add_exception_handler(db_kind, _database)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        if not is_body_allowed_for_status_code(exc.status_code):
            return Response(status_code=exc.status_code, headers=exc.headers)
        if isinstance(exc.detail, dict):  # ApiError: already bilingual
            return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail},
                                headers=exc.headers)
        code, zh, en = ROUTER_ERRORS.get(exc.status_code, (
            "http_error", "请求无法处理，请检查后重试。", str(exc.detail or "Request failed.")))
        return JSONResponse(status_code=exc.status_code, content=error_body(code, zh, en),
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            body = error_body("invalid_json", "请求格式有误，请发送 JSON。",
                              "Request body must be valid JSON.")
        else:
            fields = [".".join(str(p) for p in e.get("loc", ()) if p != "body") for e in errors]
            reasons = "; ".join(
                f"{f}: {e.get('msg')}" for f, e in zip(fields, errors, strict=True))
            body = error_body("invalid_request", "请求参数有误，请检查后重试。",
                              f"Invalid request: {reasons}", fields=fields)
        return JSONResponse(status_code=422, content=body)
