"""The web/app widget's chat endpoints: POST /api/v1/chat and answer feedback.

The widget's side of the human handoff (live messages, status, cancel, survey) is in
`api/routes/handoff.py`.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.channels.web import incoming_from_widget
from api.core.errors import ApiError
from api.deps import GatewayDep, SessionDep, SettingsDep
from api.insights.sessions import refresh_thumbs_down
from api.models import KBEvent
from api.schemas.chat import ChatCreate, ChatPublic, FeedbackCreate, FeedbackPublic

router = APIRouter(prefix="/api/v1", tags=["chat"])


@router.post("/chat", response_model=ChatPublic, response_model_exclude_none=True)
async def chat(body: ChatCreate, gateway: GatewayDep, settings: SettingsDep) -> ChatPublic:
    """Send a cardholder message; returns the bot's (or the agent desk's) reply and outcome."""
    incoming = incoming_from_widget(body.channel, body.user_id, body.text, body.metadata,
                                    settings.max_message_chars)
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
    db.flush()
    refresh_thumbs_down(db, event)  # a thumbs-down un-resolves the session on the dashboard
    db.commit()
    return FeedbackPublic(kb_event_id=event.id, helpful=body.helpful)
