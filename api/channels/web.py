"""Web/app chat widget channel: who is calling, and the widget's message as the gateway's typed
message.

Identity (issue 16): a caller is the cardholder `user_id` only with a valid `identity_hash`
(hex HMAC-SHA256 of the user id with WEB_IDENTITY_SECRET, computed by the bank's server) or a
valid short-lived identity JWT. Everyone else is an anonymous visitor with a server-issued
random id; the visitor continues their conversation with its `conversation_token`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from api.conversation.gateway import IncomingMessage
from api.core.config import Settings
from api.core.identity import (
    conversation_of_token,
    is_visitor,
    new_visitor_id,
    user_of_identity_jwt,
    valid_identity_hash,
)
from api.models import Conversation
from vocab import DomainError, ErrorKind

# Keys of the metadata the gateway sets itself; a client may never supply them.
RESERVED_METADATA = frozenset({"user_id", "channel", "user_verified", "verified",
                               "conversation_id", "tier"})


@dataclass(frozen=True)
class Caller:
    """Who sent a widget message: a verified cardholder or an anonymous visitor (`new`: one
    just issued, i.e. no credential came with the message)."""

    user_id: str
    verified: bool
    new: bool = False


def identify(db: Session, settings: Settings, channel: str, user_id: str,
             identity_hash: str | None, identity_token: str | None,
             conversation_token: str | None) -> Caller:
    """The caller behind one POST /api/v1/chat (never raises: unsigned means anonymous)."""
    user_id = user_id.strip()
    jwt_user = user_of_identity_jwt(identity_token, settings)
    if jwt_user is not None:
        return Caller(jwt_user, True)
    if user_id and not is_visitor(user_id) and valid_identity_hash(
            user_id, identity_hash, settings.web_identity_secret):
        return Caller(user_id, True)
    # Anonymous: their own conversation, named by its credential, or a new visitor id.
    conversation_id = conversation_of_token(conversation_token,
                                            settings.conversation_token_secret)
    if conversation_id is not None:
        conv = db.get(Conversation, conversation_id)
        if conv is not None and conv.channel == channel and is_visitor(conv.user_id):
            return Caller(conv.user_id, False)
    return Caller(new_visitor_id(), False, new=True)


def incoming_from_widget(channel: str, caller: Caller, text: str, metadata: dict[str, Any],
                         max_chars: int) -> IncomingMessage:
    """Validate what the widget sent (trimmed, not empty, not over-long) into one message."""
    text = validated_text(text, max_chars)
    client_metadata = {k: v for k, v in metadata.items() if k not in RESERVED_METADATA}
    # the route's 200 carries the reply: nothing is accepted before the reply is stored
    return IncomingMessage(channel=channel, user_id=caller.user_id, text=text,
                           metadata=client_metadata, verified=caller.verified,
                           acked_by_reply=True)


def validated_text(text: str, max_chars: int) -> str:
    """The trimmed text, or a 422 domain error when empty or over-long."""
    text = text.strip()
    if not text:
        raise DomainError(ErrorKind.INVALID, "empty_text", "消息不能为空，请输入您的问题。",
                          "text must not be empty or whitespace")
    if len(text) > max_chars:
        raise DomainError(ErrorKind.INVALID, "text_too_long",
                          f"消息太长了，请控制在 {max_chars} 字以内。",
                          f"text exceeds {max_chars} characters")
    return text
