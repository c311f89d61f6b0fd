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
    """POST /api/v1/chat body.

    `user_id` counts only with a valid `identity_hash` (hex HMAC-SHA256 of the user id with the
    deployment's WEB_IDENTITY_SECRET, computed by the bank's server) or `identity_token` (a
    short-lived JWT of the bank's app server); otherwise the caller is an anonymous visitor.
    """

    user_id: str = Field(min_length=1, max_length=128)
    text: str = Field(max_length=20000)
    channel: Literal["web", "app"] = "web"
    identity_hash: str | None = Field(default=None, max_length=128)
    identity_token: str | None = Field(default=None, max_length=4096)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ChatPublic(BaseModel):
    """POST /api/v1/chat response (`outcome`: see `vocab.Outcome`)."""

    conversation_id: str
    outcome: Outcome
    messages: list[BotMessage]
    details: dict[str, Any] = Field(default_factory=dict)
    # Returned by POST /api/v1/chat: the conversation's bearer credential, the effective user
    # id (a visitor id for anonymous callers) and whether the identity was verified.
    conversation_token: str | None = None
    user_id: str | None = None
    identity: Literal["verified", "anonymous"] | None = None


class FeedbackCreate(BaseModel):
    """Thumbs up/down on a KB answer."""

    kb_event_id: int
    helpful: bool


class DemoIdentityPublic(BaseModel):
    """GET /api/v1/dev/identity (development only): a demo cardholder's identity hash."""

    user_id: str
    identity_hash: str


class FeedbackPublic(BaseModel):
    """Stored feedback."""

    kb_event_id: int
    helpful: bool
