"""GET /wechat (server verification) and POST /wechat (messages and events).

Every request must carry a valid `signature` over (token, timestamp, nonce) with a fresh
timestamp; in safe/compatible mode (`encrypt_type=aes`) the body's `Encrypt` must also match
`msg_signature` and decrypt for this app id. Anything else is refused with a 4xx before
anything is processed or stored.
"""

from __future__ import annotations

import logging
import re
import time

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.background import BackgroundTask

from api.channels.wechat.crypto import CryptoError, SignatureMismatch, verify_signature
from api.channels.wechat.service import WeChatService
from api.channels.wechat.xmlmsg import (
    XmlRejected,
    inbound_from_fields,
    parse_fields,
)
from api.core.errors import ApiError
from api.core.ratelimit import enforce

logger = logging.getLogger(__name__)

router = APIRouter(tags=["wechat"])

TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_ECHOSTR = 512
XML_MEDIA_TYPE = "application/xml"


def _service(request: Request) -> WeChatService:
    return request.app.state.wechat


def _forbidden(code: str, message_en: str) -> ApiError:
    return ApiError(403, code, "请求未通过微信签名校验。", message_en)


def _check_signed(request: Request, service: WeChatService) -> tuple[str, str]:
    """Verify `signature` and the timestamp window; returns (timestamp, nonce)."""
    params = request.query_params
    timestamp = params.get("timestamp", "")
    nonce = params.get("nonce", "")
    if not TIMESTAMP_RE.match(timestamp) or not NONCE_RE.match(nonce):
        raise _forbidden("wechat_bad_signature", "timestamp and nonce are required")
    if not verify_signature(service.settings.wechat_token, timestamp, nonce,
                            params.get("signature", "")):
        raise _forbidden("wechat_bad_signature", "signature does not match")
    if abs(time.time() - int(timestamp)) > service.settings.wechat_timestamp_window_seconds:
        raise _forbidden("wechat_stale_timestamp", "timestamp is outside the allowed window")
    return timestamp, nonce


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes (declared or actually sent)."""
    too_large = ApiError(413, "wechat_body_too_large", "消息过大。",
                         f"request body exceeds {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "wechat_bad_request", "请求格式有误。", "invalid Content-Length")
        if int(declared) > limit:
            raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    if not body:
        raise ApiError(400, "wechat_empty_body", "消息不能为空。", "request body is empty")
    return bytes(body)


@router.get("/wechat", response_class=PlainTextResponse,
            summary="WeChat server verification (echo echostr when the signature matches)")
async def verify(request: Request) -> PlainTextResponse:
    service = _service(request)
    _check_signed(request, service)
    echostr = request.query_params.get("echostr", "")
    if not echostr or len(echostr) > MAX_ECHOSTR or not echostr.isprintable():
        raise _forbidden("wechat_bad_echostr", "echostr is missing or malformed")
    return PlainTextResponse(echostr)


@router.post("/wechat", summary="WeChat messages and events (XML; plaintext or AES safe mode)",
             response_class=Response)
async def receive(request: Request) -> Response:
    received_at = time.monotonic()
    service = _service(request)
    settings = service.settings
    timestamp, nonce = _check_signed(request, service)
    encrypt_type = request.query_params.get("encrypt_type", "raw").lower()
    if encrypt_type not in ("raw", "aes"):
        raise ApiError(400, "wechat_bad_request", "请求格式有误。",
                       "encrypt_type must be raw or aes")
    if encrypt_type == "aes" and not request.query_params.get("msg_signature"):
        raise _forbidden("wechat_bad_signature", "msg_signature is required with encrypt_type=aes")
    body = await _read_body(request, settings.wechat_max_body_bytes)
    key_index: int | None = None
    try:
        fields = parse_fields(body)
        if encrypt_type == "aes":
            encrypted = fields.get("Encrypt", "").strip()
            if not encrypted:
                raise XmlRejected("invalid_message", "Encrypt is missing")
            xml, key_index = service.crypto.decrypt(
                encrypted, request.query_params.get("msg_signature", ""), timestamp, nonce)
            fields = parse_fields(xml.encode("utf-8"))
        inbound = inbound_from_fields(fields)
    except SignatureMismatch as exc:
        raise _forbidden("wechat_bad_signature", str(exc)) from exc
    except CryptoError as exc:
        raise ApiError(400, "wechat_decrypt_failed", "消息解密失败。", str(exc)) from exc
    except XmlRejected as exc:
        logger.warning("rejected a WeChat callback: %s", exc.code)
        raise ApiError(400, f"wechat_{exc.code}", "消息格式有误。", str(exc)) from exc

    # Per-openid flood limit (429 + Retry-After; WeChat shows its "service unavailable" notice).
    enforce(request.app.state.limiter, "wechat_openid", settings.rate_limit_wechat_per_openid,
            inbound.from_user)
    reply = await service.respond(inbound, received_at)
    if reply.passive is None:
        return PlainTextResponse("success")
    xml = service.passive_xml(inbound, reply.passive)
    if key_index is not None:
        reply_ts = str(int(time.time()))
        xml = service.crypto.encrypt_reply(xml, reply_ts, nonce, key_index)
    background = None
    if reply.followups:
        background = BackgroundTask(service.send_followups, inbound.from_user,
                                    reply.conversation_id, reply.followups)
    return Response(xml, media_type=XML_MEDIA_TYPE, background=background)
