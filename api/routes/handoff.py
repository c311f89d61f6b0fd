"""The cardholder's side of the human handoff over HTTP: live agent messages over WebSocket or
`GET …/messages?after=`, queue status, cancel waiting, the satisfaction survey.

Every endpoint needs the conversation's `conversation_token` (from POST /api/v1/chat) as
`Authorization: Bearer`, the WebSocket as its first frame `{"type": "auth", "token": ...}`
(browsers cannot set headers on WebSockets); without it the answer is 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import APIRouter, Query, WebSocket
from starlette.websockets import WebSocketDisconnect

from api.core.config import Settings
from api.core.errors import as_api_error
from api.core.identity import conversation_of_token
from api.deps import GatewayDep, HandoffDep, OwnedConversation, RasaDep, conversation_not_found
from api.handoff.hub import conversation_topic
from api.handoff.service import HandoffReply, HandoffService
from api.handoff.views import MessagesView, StatusView
from api.routes.ws import serve
from api.schemas.chat import ChatPublic
from api.schemas.handoff import ConversationStatePublic, MessagesPublic, SurveyCreate
from vocab import DomainError, Sender

router = APIRouter(prefix="/api/v1", tags=["chat"])
AUTH_TIMEOUT_SECONDS = 10.0


def _chat_public(conversation_id: str, reply: HandoffReply) -> ChatPublic:
    return ChatPublic.model_validate({"conversation_id": conversation_id, **vars(reply)})


@router.get("/chat/{conversation_id}/messages", response_model=MessagesPublic,
            response_model_exclude_none=True)
def messages(conversation_id: OwnedConversation, handoff: HandoffDep,
             after: int = Query(0, ge=0, description="cursor: last message id seen")
             ) -> MessagesView:
    """Transcript lines after the cursor (agent messages included) and the current state."""
    return handoff.messages_after(conversation_id, after)


@router.get("/chat/{conversation_id}/status", response_model=ConversationStatePublic,
            response_model_exclude_none=True)
def status(conversation_id: OwnedConversation, handoff: HandoffDep) -> StatusView:
    """State of the conversation; while queued, the position and estimated wait."""
    return handoff.get_status(conversation_id)


@router.post("/chat/{conversation_id}/cancel", response_model=ChatPublic,
             response_model_exclude_none=True)
async def cancel_waiting(conversation_id: OwnedConversation, handoff: HandoffDep,
                         rasa: RasaDep) -> ChatPublic:
    """Stop waiting for a human; the bot takes over again (409 if not waiting)."""
    return _chat_public(conversation_id, await handoff.cancel(rasa, conversation_id))


@router.post("/chat/{conversation_id}/survey", response_model=ChatPublic,
             response_model_exclude_none=True)
async def survey(conversation_id: OwnedConversation, body: SurveyCreate, handoff: HandoffDep,
                 gateway: GatewayDep, rasa: RasaDep) -> ChatPublic:
    """Rate the agent (1-5, optional comment) in one call; the bot takes over again and asks
    the NPS question (0-10) of the session."""
    reply = await handoff.submit_survey(rasa, conversation_id, body.score, body.comment)
    after = gateway.after_human(conversation_id, reply)
    return ChatPublic.model_validate({"conversation_id": conversation_id,
                                      "outcome": after.outcome, "messages": after.messages,
                                      "details": after.details})


@router.websocket("/chat/{conversation_id}/ws")
async def live(ws: WebSocket, conversation_id: str, after: int | None = None) -> None:
    """Live agent messages and state changes for the cardholder's widget.

    The first frame must be `{"type": "auth", "token": "<conversation_token>"}`; with
    `?after=<cursor>` the socket then replays the transcript lines after the cursor.
    """
    handoff: HandoffService = ws.app.state.gateway.handoff
    settings: Settings = ws.app.state.settings
    await ws.accept()
    try:
        raw = await asyncio.wait_for(ws.receive_text(), timeout=AUTH_TIMEOUT_SECONDS)
        frame = json.loads(raw) if raw.startswith("{") else {}
        token = frame.get("token") if isinstance(frame, dict) else None
    except WebSocketDisconnect:
        return
    except (TimeoutError, ValueError):
        token = None
    if (not isinstance(token, str) or conversation_of_token(
            token, settings.conversation_token_secret) != conversation_id):
        with contextlib.suppress(RuntimeError):
            await ws.send_json({"type": "error", "detail": conversation_not_found().detail})
            await ws.close(code=4404)
        return
    try:
        state = handoff.get_status(conversation_id)
    except DomainError as exc:
        await ws.send_json({"type": "error", "detail": as_api_error(exc).detail})
        await ws.close(code=4404)
        return
    sub = handoff.hub.subscribe(conversation_topic(conversation_id))
    backlog: list[dict[str, Any]] = [{"type": "state", **state}]
    if after is not None:
        backlog += [{"type": "message", "message": m}
                    for m in handoff.messages_after(conversation_id, after)["messages"]
                    if m["sender"] != Sender.USER]
    await serve(ws, sub, backlog)
