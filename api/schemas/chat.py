"""Pydantic models of the public chat contract."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Outcomes of one user turn. `unavailable` (added): the bot could not be reached and the user
# got an apology; `agent`: the message went to the human agent who owns the conversation.
# Handoff flow (api/handoff): `ticket` leaving a message + callback number (outside working
# hours or after a queue timeout), `survey` the satisfaction survey after an agent resolved,
# `cancelled` the cardholder stopped waiting in the queue.
Outcome = Literal["answered", "clarify", "fallback", "handoff", "form", "agent", "unavailable",
                  "ticket", "survey", "cancelled"]


class Button(BaseModel):
    """A reply option; clicking sends `payload` as the next message."""

    title: str
    payload: str


class BotMessage(BaseModel):
    """One message shown to the cardholder."""

    model_config = ConfigDict(extra="allow")

    type: Literal["text", "buttons", "image", "link"]
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
    """POST /api/v1/chat response."""

    conversation_id: str
    outcome: Outcome
    messages: list[BotMessage]
    details: dict[str, Any] = Field(default_factory=dict)


class IncomingMessage(BaseModel):
    """The one typed message every channel adapter produces."""

    channel: str
    user_id: str
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class FeedbackCreate(BaseModel):
    """Thumbs up/down on a KB answer."""

    kb_event_id: int
    helpful: bool


class FeedbackPublic(BaseModel):
    """Stored feedback."""

    kb_event_id: int
    helpful: bool
