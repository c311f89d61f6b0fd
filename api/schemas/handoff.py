"""Pydantic models of the agent desk and the cardholder-side handoff endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.handoff.views import HeldItemView, QueueItemView
from vocab import Sender, SkillGroup, State


class AgentMessageCreate(BaseModel):
    """POST /api/v1/agent/conversations/{id}/messages."""

    text: str = Field(min_length=1, max_length=2000)


class AgentStatusUpdate(BaseModel):
    """POST /api/v1/agent/status."""

    status: Literal["online", "away"]


class TransferCreate(BaseModel):
    """POST /api/v1/agent/conversations/{id}/transfer."""

    group: SkillGroup
    note: str = Field(default="", max_length=500)


class SecretaryUpdate(BaseModel):
    """PUT /api/v1/agent/secretaries/{user_id}: the agent who becomes the cardholder's own."""

    agent: str = Field(min_length=1, max_length=64)  # the agent's username


class SecretaryPublic(BaseModel):
    """A cardholder's own agent (安心秘书)."""

    user_id: str
    agent: str | None
    agent_name: str
    agent_no: str
    source: str  # supervisor | learned
    set_by: str
    updated_at: str | None


class TicketUpdate(BaseModel):
    """POST /api/v1/agent/tickets/{id}/close."""

    note: str = Field(default="", max_length=1000)


class SurveyCreate(BaseModel):
    """POST /api/v1/chat/{conversation_id}/survey."""

    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=1000)


class MessagePublic(BaseModel):
    """A transcript line."""

    model_config = ConfigDict(extra="allow")

    id: int
    sender: Sender
    type: str
    text: str
    created_at: str | None = None


class QueuePublic(BaseModel):
    """Queue position of a waiting conversation."""

    position: int
    estimated_wait_seconds: int
    group: str
    group_label: str
    agents_online: int


class QueueListPublic(BaseModel):
    """GET /api/v1/agent/queue."""

    items: list[QueueItemView]
    total: int


class ConversationStatePublic(BaseModel):
    """State of a conversation as the widget needs it."""

    model_config = ConfigDict(extra="allow")

    conversation_id: str
    state: State
    queue: QueuePublic | None = None
    agent: dict[str, Any] | None = None


class DeskResultPublic(ConversationStatePublic):
    """What an agent command (accept, transfer, resolve) returns."""

    message: MessagePublic


class HeldListPublic(BaseModel):
    """GET /api/v1/agent/conversations."""

    items: list[HeldItemView]
    total: int


class MessagesPublic(ConversationStatePublic):
    """GET /api/v1/chat/{conversation_id}/messages?after=<cursor>."""

    messages: list[MessagePublic]
    next_cursor: int


class ConversationDetailPublic(ConversationStatePublic):
    """GET /api/v1/agent/conversations/{id}: transcript, profile, episode, history."""

    user_id: str
    channel: str
    handoff: dict[str, Any] | None
    profile: dict[str, Any]
    messages: list[MessagePublic]
    transitions: list[dict[str, Any]]
    surveys: list[dict[str, Any]]


class SuggestionPublic(BaseModel):
    """A KB entry the bot would use for the latest user message."""

    entry_id: str
    question: str
    answer: str
    score: float | None = None


class SuggestionsPublic(BaseModel):
    query: str
    suggestions: list[SuggestionPublic]
    available: bool = True


class TicketPublic(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    number: str
    conversation_id: str
    user_id: str
    status: str
    message: str
    callback_number: str | None
