"""Chat-API helpers for every test that talks to POST /api/v1/chat (issue 16).

A cardholder is only who they say they are with a signed identity, and every conversation
endpoint needs the conversation's token. These helpers post as a signed (demo) user and build
the `Authorization` headers, with the development secrets of `.env.example` (or whatever the
environment sets), so tests read like before:

    reply = client.post("/api/v1/chat", json=signed("demo-gold-001", "我的额度"))
    client.get(f"/api/v1/chat/{cid}/messages", headers=owner(cid))
"""

from __future__ import annotations

import os
from typing import Any

from api.core.config import DEV_SECRETS
from api.core.identity import conversation_token, identity_hash


def identity_secret() -> str:
    return os.environ.get("WEB_IDENTITY_SECRET") or DEV_SECRETS["web_identity_secret"]


def token_secret() -> str:
    return (os.environ.get("CONVERSATION_TOKEN_SECRET")
            or DEV_SECRETS["conversation_token_secret"])


def signed(user_id: str, text: str, **extra: Any) -> dict[str, Any]:
    """A POST /api/v1/chat body signed like the bank's server signs it."""
    return {"user_id": user_id, "text": text,
            "identity_hash": identity_hash(user_id, identity_secret()), **extra}


def owner(conversation_id: str) -> dict[str, str]:
    """The owner's `Authorization` header for a conversation endpoint."""
    return {"Authorization": f"Bearer {conversation_token(conversation_id, token_secret())}"}


def auth_frame(conversation_id: str) -> dict[str, str]:
    """The first WebSocket frame of the cardholder's live socket."""
    return {"type": "auth", "token": conversation_token(conversation_id, token_secret())}
