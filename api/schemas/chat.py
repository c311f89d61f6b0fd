"""Pydantic models of the public chat contract."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vocab import MessageType, Outcome


class Button(BaseModel):
    """A reply option; clicking sends `payload` as the next message (also the KB console's
    answer buttons: their content rules are the KB store's, see knowledge_base/content)."""

    model_config = ConfigDict(extra="forbid")

    title: str
    payload: str


class BotMessage(BaseModel):
    """One message shown to the cardholder."""

    model_config = ConfigDict(extra="allow")

    type: MessageType
    text: str = ""
    buttons: list[Button] | None = None
    url: str | None = None
    id: int | None = None


class ChatCreate(BaseModel):
    """POST /api/v1/chat body."""

    user_id: str = Field(min_length=1, max_length=128)
    text: str
    channel: Literal["web", "app"] = "web"
    metadata: dict[str, Any] = Field(default_factory=dict)


class ChatPublic(BaseModel):
    """POST /api/v1/chat response (`outcome`: see `vocab.Outcome`)."""

    conversation_id: str
    outcome: Outcome
    messages: list[BotMessage]
    details: dict[str, Any] = Field(default_factory=dict)


class FeedbackCreate(BaseModel):
    """Thumbs up/down on a KB answer."""

    kb_event_id: int
    helpful: bool


class FeedbackPublic(BaseModel):
    """Stored feedback."""

    kb_event_id: int
    helpful: bool
