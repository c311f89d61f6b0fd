"""Clear 4xx errors: Chinese for the cardholder, English for the developer."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def error_body(code: str, message_zh: str, message_en: str, **extra: Any) -> dict[str, Any]:
    """The error shape every endpoint uses."""
    return {"detail": {"code": code, "message": message_zh, "message_en": message_en, **extra}}


class ApiError(HTTPException):
    """An HTTP error with a bilingual message."""

    def __init__(self, status_code: int, code: str, message_zh: str, message_en: str,
                 **extra: Any) -> None:
        super().__init__(status_code, error_body(code, message_zh, message_en, **extra)["detail"])


def install_error_handlers(app: FastAPI) -> None:
    """Turn validation failures (incl. non-JSON bodies) into bilingual 422s."""

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
