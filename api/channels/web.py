"""Web/app chat widget channel: POST /api/v1/chat."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import GatewayDep, SessionDep, SettingsDep
from api.errors import ApiError
from api.models import KBEvent
from api.schemas import ChatCreate, ChatPublic, FeedbackCreate, FeedbackPublic, IncomingMessage

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
    return ChatPublic(conversation_id=reply.conversation_id, outcome=reply.outcome,
                      messages=reply.messages, details=reply.details)


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
