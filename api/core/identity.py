"""Who is calling the chat API: signed cardholder identity and per-conversation credentials.

* The bank's server proves a cardholder's identity to the widget with
  `identity_hash = hex(HMAC-SHA256(key=WEB_IDENTITY_SECRET, msg=user_id))` (Chatwoot's identity
  validation), or with a short-lived HS256 JWT (`sub` = user id, `exp`) signed with
  `WEB_IDENTITY_JWT_SECRET`. Anything else is an anonymous visitor with a server-issued id.
* A conversation's bearer credential is `conversation_token` = `<conversation id>.<MAC>`, the
  MAC keyed with `CONVERSATION_TOKEN_SECRET`; it names its conversation, so an anonymous
  visitor continues with it alone.

Pure functions of the settings; the routes decide what to do with the answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import jwt

from api.core.config import Settings

VISITOR_PREFIX = "visitor-"
_TOKEN_CONTEXT = b"cardbot-conversation-token:"


def identity_hash(user_id: str, secret: str) -> str:
    """The hex HMAC-SHA256 of `user_id` with the deployment's identity secret."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def valid_identity_hash(user_id: str, given: str | None, secret: str) -> bool:
    """True when `given` is the identity hash of `user_id` (constant-time comparison)."""
    if not given or not secret:
        return False
    # bytes: compare_digest refuses non-ASCII str, and a hostile client may send any text
    return hmac.compare_digest(identity_hash(user_id, secret).encode(),
                               given.strip().lower().encode())


def user_of_identity_jwt(token: str | None, settings: Settings) -> str | None:
    """The user id (`sub`) of a valid, unexpired, short-lived identity JWT, else None."""
    if not token or not settings.web_identity_jwt_secret:
        return None
    try:
        claims = jwt.decode(token, settings.web_identity_jwt_secret, algorithms=["HS256"],
                            options={"require": ["sub", "exp"]})
    except jwt.InvalidTokenError:
        return None
    iat = claims.get("iat")
    lifetime = claims["exp"] - (iat if isinstance(iat, int | float) else time.time())
    if lifetime > settings.web_identity_jwt_max_ttl_seconds:
        return None  # not short-lived: refuse, a leaked long-lived token is an account key
    sub = claims.get("sub")
    return sub if isinstance(sub, str) and sub.strip() else None


def new_visitor_id() -> str:
    """A random id for an anonymous visitor (never a card account's user id)."""
    return VISITOR_PREFIX + secrets.token_urlsafe(12)


def is_visitor(user_id: str) -> bool:
    """Whether a conversation belongs to an anonymous visitor."""
    return user_id.startswith(VISITOR_PREFIX)


def _mac(conversation_id: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), _TOKEN_CONTEXT + conversation_id.encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def conversation_token(conversation_id: str, secret: str) -> str:
    """The bearer credential of one conversation."""
    return f"{conversation_id}.{_mac(conversation_id, secret)}"


def conversation_of_token(token: str | None, secret: str) -> str | None:
    """The conversation id a well-formed, correctly signed token names, else None."""
    if not token or "." not in token or len(token) > 512:
        return None
    conversation_id, _, mac = token.rpartition(".")
    if not conversation_id or not hmac.compare_digest(_mac(conversation_id, secret).encode(),
                                                      mac.encode()):
        return None
    return conversation_id


def bearer_of(authorization: str | None) -> str | None:
    """The credential of an `Authorization: Bearer <x>` header value, else None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
