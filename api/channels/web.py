"""Web/app chat widget channel: the widget's message becomes the gateway's typed message."""

from __future__ import annotations

from typing import Any

from api.conversation.gateway import IncomingMessage
from vocab import DomainError, ErrorKind


def incoming_from_widget(channel: str, user_id: str, text: str, metadata: dict[str, Any],
                         max_chars: int) -> IncomingMessage:
    """Validate what the widget sent (trimmed, not empty, not over-long) into one message."""
    text = text.strip()
    if not text:
        raise DomainError(ErrorKind.INVALID, "empty_text", "消息不能为空，请输入您的问题。",
                          "text must not be empty or whitespace")
    if len(text) > max_chars:
        raise DomainError(ErrorKind.INVALID, "text_too_long",
                          f"消息太长了，请控制在 {max_chars} 字以内。",
                          f"text exceeds {max_chars} characters")
    return IncomingMessage(channel=channel, user_id=user_id.strip() or user_id, text=text,
                           metadata=metadata)
