"""Security primitives of the staff consoles: bcrypt password hashes and HS256 bearer JWTs.

Consoles (agent, ops) sign in with `POST /api/v1/auth/token` (OAuth2 password flow) and send
`Authorization: Bearer <jwt>`. Who the token belongs to is `api/staff.py`; the route guards
(`current_user`, `require_role`) are in `api/deps.py`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Protocol

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.bcrypt import BcryptHasher

from api.core.config import Settings, get_settings
from api.core.errors import ApiError

logger = logging.getLogger(__name__)

JWT_ALGORITHM = "HS256"

@lru_cache
def _hasher(rounds: int) -> PasswordHash:
    return PasswordHash((BcryptHasher(rounds=rounds),))


def hash_password(password: str, settings: Settings | None = None) -> str:
    """bcrypt hash of a password (cost from BCRYPT_ROUNDS)."""
    return _hasher((settings or get_settings()).bcrypt_rounds).hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """True when the password matches the stored hash (any bcrypt cost)."""
    try:
        return _hasher(get_settings().bcrypt_rounds).verify(password, password_hash)
    except Exception:  # malformed hash: treat as a failed login, never as a server error
        logger.warning("unreadable password hash")
        return False


class TokenSubject(Protocol):
    """Who a token is issued to (a staff account)."""

    id: Any
    username: Any
    role: Any


def create_access_token(user: TokenSubject, settings: Settings | None = None,
                        ttl: timedelta | None = None) -> str:
    """A signed JWT for a staff user: sub = username, role, exp."""
    settings = settings or get_settings()
    now = datetime.now(timezone.utc)
    ttl = ttl if ttl is not None else timedelta(minutes=settings.jwt_ttl_minutes)
    claims = {"sub": user.username, "role": user.role, "uid": user.id,
              "iat": int(now.timestamp()), "exp": int((now + ttl).timestamp())}
    return jwt.encode(claims, settings.jwt_secret, algorithm=JWT_ALGORITHM)


def unauthorized(code: str, zh: str, en: str) -> ApiError:
    err = ApiError(401, code, zh, en)
    err.headers = {"WWW-Authenticate": "Bearer"}
    return err


def decode_token(token: str, settings: Settings | None = None) -> dict[str, Any]:
    """Verify signature and expiry; raise a 401 ApiError otherwise."""
    settings = settings or get_settings()
    try:
        claims = jwt.decode(token, settings.jwt_secret, algorithms=[JWT_ALGORITHM],
                            options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise unauthorized("token_expired", "登录已过期，请重新登录。",
                            "Token has expired; sign in again.") from exc
    except jwt.InvalidTokenError as exc:
        raise unauthorized("invalid_token", "登录凭证无效，请重新登录。",
                            "Invalid token.") from exc
    return claims
