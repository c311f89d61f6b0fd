"""The web/app widget's chat endpoints: POST /api/v1/chat, answer feedback, and the
development-only demo identity signer.

The widget's side of the human handoff (live messages, status, cancel, survey) is in
`api/routes/handoff.py`. Every conversation endpoint needs the conversation's
`conversation_token` as `Authorization: Bearer` (`OwnedConversation`).
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session

from api.channels.web import Caller, identify, incoming_from_widget, validated_text
from api.conversation.gateway import IncomingMessage
from api.core import timing
from api.core.db import with_db_retry
from api.core.errors import ApiError
from api.core.identity import conversation_token, identity_hash
from api.core.ratelimit import enforce
from api.deps import (
    GatewayDep,
    LimiterDep,
    OwnedConversation,
    SessionDep,
    SettingsDep,
    conversation_bearer,
)
from api.insights.sessions import refresh_thumbs_down
from api.models import KBEvent
from api.schemas.chat import (
    ChatCreate,
    ChatPublic,
    DemoIdentityPublic,
    FeedbackCreate,
    FeedbackPublic,
)

router = APIRouter(prefix="/api/v1", tags=["chat"])
DEMO_USER_PREFIX = "demo-"


def client_ip(request: Request) -> str:
    """The client address: the peer, or behind a TRUSTED_PROXIES proxy the address it forwarded
    (set by the middleware of api/core/web_security.py)."""
    return request.client.host if request.client else "unknown"


@router.post("/chat", response_model=ChatPublic, response_model_exclude_none=True)
async def chat(body: ChatCreate, request: Request, response: Response, gateway: GatewayDep,
               settings: SettingsDep, limiter: LimiterDep,
               credentials: Annotated[HTTPAuthorizationCredentials | None,
                                      Depends(conversation_bearer)] = None) -> ChatPublic:
    """Send a cardholder message; returns the bot's (or the agent desk's) reply and outcome.

    Signed callers (`identity_hash` / `identity_token`) are the cardholder `user_id`; anyone
    else is an anonymous visitor, continuing with `Authorization: Bearer <conversation_token>`.
    """
    spans = timing.begin()
    started = time.perf_counter()
    validated_text(body.text, settings.max_message_chars)  # 422 before anything is counted
    ip = client_ip(request)
    token = credentials.credentials if credentials else None

    def admit(db: Session) -> Caller:
        """Limits, identity and the conversation: database and (production) Redis calls,
        so they run in a worker thread (with the gateway's first step, on its session), never
        blocking the event loop of every other chat. (No request-scoped session: FastAPI
        would enter and close it in two more worker-thread hops.)"""
        with timing.span("limits"):
            enforce(limiter, "chat_ip", settings.rate_limit_chat_per_ip, ip)
        with timing.span("identify"):
            caller = identify(db, settings, body.channel, body.user_id, body.identity_hash,
                              body.identity_token, token)
        with timing.span("limits"):
            if caller.new:
                # a new identity per message would never fill the per-user limit below
                enforce(limiter, "chat_new_visitor", settings.rate_limit_chat_new_visitors_per_ip,
                        ip)
            enforce(limiter, "chat_user", settings.rate_limit_chat_per_user,
                    f"{body.channel}:{caller.user_id}")
        with timing.span("conversation"):
            conv = gateway.conversation_for(db, body.channel, caller.user_id)
        with timing.span("limits"):
            enforce(limiter, "chat_conversation", settings.rate_limit_chat_per_conversation,
                    conv.id)
        return caller

    admitted: list[Caller] = []

    def incoming(db: Session) -> IncomingMessage:
        admitted.append(with_db_retry(lambda: admit(db), reset=db.rollback))
        return incoming_from_widget(body.channel, admitted[0], body.text, body.metadata,
                                    settings.max_message_chars)

    reply = await gateway.handle_admitted(incoming)
    caller = admitted[0]
    # The gateway's reply is untyped data from Rasa/handoff (plain str outcome, message dicts);
    # validating it here checks the outcome against the contract and builds the BotMessages.
    public = ChatPublic.model_validate({
        "conversation_id": reply.conversation_id, "outcome": reply.outcome,
        "messages": reply.messages, "details": reply.details,
        "conversation_token": conversation_token(reply.conversation_id,
                                                 settings.conversation_token_secret),
        "user_id": caller.user_id, "identity": "verified" if caller.verified else "anonymous"})
    if settings.server_timing:
        timing.add("route", time.perf_counter() - started)
        response.headers["Server-Timing"] = timing.header(spans)
    return public


@router.post("/chat/{conversation_id}/feedback", response_model=FeedbackPublic)
async def feedback(conversation_id: OwnedConversation, body: FeedbackCreate,
                   db: SessionDep) -> FeedbackPublic:
    """Mark a KB answer helpful or not helpful (counted per entry for ops)."""
    event = db.get(KBEvent, body.kb_event_id)
    if event is None or event.conversation_id != conversation_id:
        raise ApiError(404, "answer_not_found", "没有找到这条回答。",
                       "kb_event_id not found in this conversation")
    event.helpful = body.helpful
    db.flush()
    refresh_thumbs_down(db, event)  # a thumbs-down un-resolves the session on the dashboard
    db.commit()
    return FeedbackPublic(kb_event_id=event.id, helpful=body.helpful)


@router.get("/dev/identity", response_model=DemoIdentityPublic)
def demo_identity(settings: SettingsDep,
                  user_id: str = Query(min_length=1, max_length=128)) -> DemoIdentityPublic:
    """Development only: the identity hash of a README demo cardholder, for the demo page.

    In production (and with WEB_IDENTITY_DEMO_SIGNING=false) this is 404: there the bank's
    server computes the hash.
    """
    if not settings.demo_signing_enabled or not user_id.startswith(DEMO_USER_PREFIX):
        raise ApiError(404, "not_found", "页面不存在。", "Not found.")
    return DemoIdentityPublic(user_id=user_id,
                              identity_hash=identity_hash(user_id, settings.web_identity_secret))
