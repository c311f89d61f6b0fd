"""Agent desk API: queue, accept, transcript, messages, transfer, resolve, tickets, live feed.

Every endpoint needs a bearer token of an agent, supervisor or admin (401 without a valid
token, 403 for other roles). Live events come over `WS /api/v1/agent/ws`: the console sends
`{"type": "auth", "token": "<jwt>"}` first (browsers cannot set headers on WebSockets).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Query, WebSocket
from starlette.websockets import WebSocketDisconnect

from api.core.db import get_sessionmaker
from api.core.errors import ApiError
from api.deps import DeskAgent, DeskLead, HandoffDep, InspectorDep, KBDep, RasaDep
from api.handoff.canned import CANNED_REPLIES
from api.handoff.hub import STAFF
from api.handoff.views import DeskResultView, MessageView, TicketView, TranscriptView
from api.routes.ws import serve
from api.schemas.auth import StaffPublic
from api.schemas.handoff import (
    AgentMessageCreate,
    AgentStatusUpdate,
    ConversationDetailPublic,
    DeskResultPublic,
    HeldListPublic,
    MessagePublic,
    QueueListPublic,
    SecretaryPublic,
    SecretaryUpdate,
    SuggestionPublic,
    SuggestionsPublic,
    TicketPublic,
    TicketUpdate,
    TransferCreate,
)
from api.staff import user_from_token
from vocab import DESK_ROLES

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/agent", tags=["agent"])
AUTH_TIMEOUT_SECONDS = 10.0


@router.get("/me", response_model=StaffPublic)
def me(agent: DeskAgent) -> StaffPublic:
    """The signed-in agent, with status and capacity."""
    return StaffPublic.of(agent)


@router.post("/status", response_model=StaffPublic)
def set_status(body: AgentStatusUpdate, agent: DeskAgent, handoff: HandoffDep) -> StaffPublic:
    """Go online (take conversations) or away."""
    return StaffPublic.of(handoff.set_status(agent, body.status))


@router.get("/queue", response_model=QueueListPublic)
def queue(agent: DeskAgent, handoff: HandoffDep) -> QueueListPublic:
    """Waiting conversations of the agent's skill groups, in serving order."""
    items = handoff.queue(agent)
    return QueueListPublic.model_validate({"items": items, "total": len(items)})


@router.get("/conversations", response_model=HeldListPublic)
def my_conversations(agent: DeskAgent, handoff: HandoffDep) -> HeldListPublic:
    """Conversations the agent is serving now."""
    items = handoff.mine(agent)
    return HeldListPublic.model_validate({"items": items, "total": len(items)})


@router.get("/conversations/{conversation_id}", response_model=ConversationDetailPublic,
            response_model_exclude_none=True)
def conversation(conversation_id: str, agent: DeskAgent,
                 handoff: HandoffDep) -> TranscriptView:
    """Full transcript (bot turns with the KB entry and score used), profile and history."""
    return handoff.transcript(conversation_id)


@router.post("/conversations/{conversation_id}/accept", response_model=DeskResultPublic,
             response_model_exclude_none=True)
def accept(conversation_id: str, agent: DeskAgent, handoff: HandoffDep) -> DeskResultView:
    """Take a waiting conversation; 409 if another agent was first."""
    return handoff.accept(conversation_id, agent)


@router.post("/conversations/{conversation_id}/messages", response_model=MessagePublic)
async def send_message(conversation_id: str, body: AgentMessageCreate, agent: DeskAgent,
                       handoff: HandoffDep, rasa: RasaDep) -> MessageView:
    """Write to the cardholder (delivered live; mirrored into the Rasa tracker)."""
    text = body.text.strip()
    if not text:
        raise ApiError(422, "empty_text", "消息不能为空。", "text must not be empty")
    return await handoff.agent_message(rasa, conversation_id, agent, text)


@router.post("/conversations/{conversation_id}/resolve", response_model=DeskResultPublic,
             response_model_exclude_none=True)
def resolve(conversation_id: str, agent: DeskAgent, handoff: HandoffDep,
            inspector: InspectorDep, tasks: BackgroundTasks) -> DeskResultView:
    """Close the case; the cardholder gets the satisfaction survey; quality inspection (质检)
    of the episode runs after the response."""
    result = handoff.resolve(conversation_id, agent)
    tasks.add_task(inspector.inspect_resolved, get_sessionmaker(), conversation_id)
    return result


@router.post("/conversations/{conversation_id}/transfer", response_model=DeskResultPublic,
             response_model_exclude_none=True)
def transfer(conversation_id: str, body: TransferCreate, agent: DeskAgent,
             handoff: HandoffDep) -> DeskResultView:
    """Hand the conversation to another skill group (it goes back to the queue)."""
    return handoff.transfer(conversation_id, agent, str(body.group), body.note)


@router.get("/conversations/{conversation_id}/suggestions", response_model=SuggestionsPublic)
def suggestions(conversation_id: str, agent: DeskAgent, handoff: HandoffDep,
                kb: KBDep) -> SuggestionsPublic:
    """The bot's top-3 KB answers for the cardholder's latest message (runs in the threadpool:
    encoding the query is CPU work)."""
    query, channel = handoff.latest_user_text(conversation_id)
    if not query.strip():
        return SuggestionsPublic(query="", suggestions=[])
    try:
        result = kb.search(query, channel=channel, top_k=3)
    except Exception as exc:  # retrieval loading or down: the console works without suggestions
        logger.warning("KB suggestions unavailable: %s", type(exc).__name__)
        return SuggestionsPublic(query=query, suggestions=[], available=False)
    items = []
    for hit in (result.get("hits") or [])[:3]:
        answer = hit.get("answer") or {}
        items.append(SuggestionPublic(
            entry_id=str(hit.get("entry_id", "")), question=str(hit.get("question", "")),
            answer=str(answer.get("text", "") if isinstance(answer, dict) else answer),
            score=hit.get("score")))
    return SuggestionsPublic(query=query, suggestions=items)


@router.get("/canned-replies")
def canned_replies(agent: DeskAgent) -> dict[str, Any]:
    """Standard phrases for the reply box."""
    return {"items": list(CANNED_REPLIES)}


@router.get("/tickets", response_model=list[TicketPublic])
def tickets(agent: DeskAgent, handoff: HandoffDep,
            status: str = Query("open", pattern="^(open|closed|collecting|cancelled)$")
            ) -> list[TicketView]:
    """Left messages with callback numbers (outside hours / queue timeout)."""
    return handoff.tickets(status)


@router.post("/tickets/{ticket_id}/close", response_model=TicketPublic)
def close_ticket(ticket_id: int, body: TicketUpdate, agent: DeskAgent,
                 handoff: HandoffDep) -> TicketView:
    """Mark a ticket as handled (the cardholder was called back)."""
    return handoff.close_ticket(ticket_id, agent, body.note)


@router.get("/secretaries", response_model=list[SecretaryPublic])
def secretaries(lead: DeskLead, handoff: HandoffDep,
                user_id: str | None = Query(default=None, max_length=128)) -> list[Any]:
    """Cardholders' own agents (安心秘书), set by a supervisor or learned (supervisors only)."""
    return handoff.secretaries(user_id)


@router.put("/secretaries/{user_id}", response_model=SecretaryPublic)
def assign_secretary(user_id: str, body: SecretaryUpdate, lead: DeskLead,
                     handoff: HandoffDep) -> Any:
    """Make an agent the cardholder's own (a supervisor's choice is never overwritten by
    learning)."""
    return handoff.assign_secretary(user_id, body.agent, lead)


@router.delete("/secretaries/{user_id}", status_code=204)
def clear_secretary(user_id: str, lead: DeskLead, handoff: HandoffDep) -> None:
    """Remove the cardholder's own agent (404 when there is none)."""
    handoff.clear_secretary(user_id)


@router.websocket("/ws")
async def live(ws: WebSocket) -> None:
    """Live desk events: new messages, state changes, queue and ticket updates."""
    await ws.accept()
    try:
        raw = await asyncio.wait_for(ws.receive_text(), timeout=AUTH_TIMEOUT_SECONDS)
        token = json.loads(raw).get("token") if raw.startswith("{") else None
        with get_sessionmaker()() as db:
            user = user_from_token(db, token)
        if user.role not in DESK_ROLES:
            raise ApiError(403, "forbidden", "您没有权限进行此操作。", "role not allowed")
    except ApiError as exc:
        code = 4403 if exc.status_code == 403 else 4401
        await ws.send_json({"type": "error", "detail": exc.detail})
        await ws.close(code=code)
        return
    except WebSocketDisconnect:
        return
    except (TimeoutError, ValueError, AttributeError):
        with contextlib.suppress(RuntimeError):
            await ws.close(code=4401)
        return
    hub = ws.app.state.gateway.handoff.hub
    sub = hub.subscribe(STAFF)
    await serve(ws, sub, [{"type": "ready", "user": StaffPublic.of(user).model_dump()}])
