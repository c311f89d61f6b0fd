"""Web/app chat widget channel: POST /api/v1/chat, plus the cardholder side of the handoff
(live agent messages over WebSocket or `GET …/messages?after=`, queue status, cancel, survey)."""

from __future__ import annotations

from fastapi import APIRouter, Query, WebSocket

from api.core.errors import ApiError
from api.deps import GatewayDep, HandoffDep, RasaDep, SessionDep, SettingsDep
from api.handoff.hub import conversation_topic
from api.models import Conversation, KBEvent
from api.routes.ws import serve
from api.schemas.chat import ChatCreate, ChatPublic, FeedbackCreate, FeedbackPublic, IncomingMessage
from api.schemas.handoff import ConversationStatePublic, MessagesPublic, SurveyCreate

router = APIRouter(prefix="/api/v1", tags=["chat"])


def to_incoming(body: ChatCreate, max_chars: int) -> IncomingMessage:
    """Validate the widget payload and turn it into the gateway's typed message."""
    text = body.text.strip()
    if not text:
        raise ApiError(422, "empty_text", "消息不能为空，请输入您的问题。",
                       "text must not be empty or whitespace")
    if len(text) > max_chars:
        raise ApiError(422, "text_too_long", f"消息太长了，请控制在 {max_chars} 字以内。",
                       f"text exceeds {max_chars} characters")
    return IncomingMessage(channel=body.channel, user_id=body.user_id.strip() or body.user_id,
                           text=text, metadata=body.metadata)


@router.post("/chat", response_model=ChatPublic, response_model_exclude_none=True)
async def chat(body: ChatCreate, gateway: GatewayDep, settings: SettingsDep) -> ChatPublic:
    """Send a cardholder message; returns the bot's (or the agent desk's) reply and outcome."""
    incoming = to_incoming(body, settings.max_message_chars)
    reply = await gateway.handle(incoming)
    # The gateway's reply is untyped data from Rasa/handoff (plain str outcome, message dicts);
    # validating it here checks the outcome against the contract and builds the BotMessages.
    return ChatPublic.model_validate({"conversation_id": reply.conversation_id,
                                      "outcome": reply.outcome, "messages": reply.messages,
                                      "details": reply.details})


@router.post("/chat/{conversation_id}/feedback", response_model=FeedbackPublic)
async def feedback(conversation_id: str, body: FeedbackCreate, db: SessionDep) -> FeedbackPublic:
    """Mark a KB answer helpful or not helpful (counted per entry for ops)."""
    event = db.get(KBEvent, body.kb_event_id)
    if event is None or event.conversation_id != conversation_id:
        raise ApiError(404, "answer_not_found", "没有找到这条回答。",
                       "kb_event_id not found in this conversation")
    event.helpful = body.helpful
    db.commit()
    return FeedbackPublic(kb_event_id=event.id, helpful=body.helpful)


@router.get("/chat/{conversation_id}/messages", response_model=MessagesPublic,
            response_model_exclude_none=True)
def messages(conversation_id: str, handoff: HandoffDep,
             after: int = Query(0, ge=0, description="cursor: last message id seen")) -> dict:
    """Transcript lines after the cursor (agent messages included) and the current state."""
    return handoff.messages_after(conversation_id, after)


@router.get("/chat/{conversation_id}/status", response_model=ConversationStatePublic,
            response_model_exclude_none=True)
def status(conversation_id: str, handoff: HandoffDep) -> dict:
    """State of the conversation; while queued, the position and estimated wait."""
    return handoff.get_status(conversation_id)


@router.post("/chat/{conversation_id}/cancel", response_model=ChatPublic,
             response_model_exclude_none=True)
async def cancel_waiting(conversation_id: str, handoff: HandoffDep, rasa: RasaDep,
                         db: SessionDep) -> ChatPublic:
    """Stop waiting for a human; the bot takes over again (409 if not waiting)."""
    if db.get(Conversation, conversation_id) is None:
        raise ApiError(404, "conversation_not_found", "没有找到这个会话。",
                       "conversation_id not found")
    reply = await handoff.cancel(rasa, conversation_id)
    return ChatPublic.model_validate({"conversation_id": conversation_id, **vars(reply)})


@router.post("/chat/{conversation_id}/survey", response_model=ChatPublic,
             response_model_exclude_none=True)
async def survey(conversation_id: str, body: SurveyCreate, handoff: HandoffDep, rasa: RasaDep,
                 db: SessionDep) -> ChatPublic:
    """Rate the agent (1-5, optional comment) in one call; the bot takes over again."""
    if db.get(Conversation, conversation_id) is None:
        raise ApiError(404, "conversation_not_found", "没有找到这个会话。",
                       "conversation_id not found")
    reply = await handoff.submit_survey(rasa, conversation_id, body.score, body.comment)
    return ChatPublic.model_validate({"conversation_id": conversation_id, **vars(reply)})


@router.websocket("/chat/{conversation_id}/ws")
async def live(ws: WebSocket, conversation_id: str, after: int | None = None) -> None:
    """Live agent messages and state changes for the cardholder's widget.

    The conversation id (a random UUID handed out by POST /api/v1/chat) is the capability.
    With `?after=<cursor>` the socket first replays the transcript lines after the cursor.
    """
    handoff = ws.app.state.gateway.handoff
    await ws.accept()
    try:
        status = handoff.get_status(conversation_id)
    except ApiError as exc:
        await ws.send_json({"type": "error", "detail": exc.detail})
        await ws.close(code=4404)
        return
    sub = handoff.hub.subscribe(conversation_topic(conversation_id))
    backlog: list[dict] = [{"type": "state", **status}]
    if after is not None:
        backlog += [{"type": "message", "message": m}
                    for m in handoff.messages_after(conversation_id, after)["messages"]
                    if m["sender"] != "user"]
    await serve(ws, sub, backlog)
