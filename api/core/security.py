"""Staff authentication: bcrypt password hashes, HS256 bearer JWTs and role checks.

Consoles (agent, ops) sign in with `POST /api/v1/auth/token` (OAuth2 password flow) and send
`Authorization: Bearer <jwt>`. Routers protect themselves with `require_role(...)`; the token's
subject is re-read from the database on every request, so a deactivated account or a changed
role takes effect at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Annotated, Any

import jwt
from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer
from pwdlib import PasswordHash
from pwdlib.hashers.bcrypt import BcryptHasher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.core.config import Settings, get_settings
from api.core.db import session_scope
from api.core.errors import ApiError
from api.models import StaffUser

logger = logging.getLogger(__name__)

ROLES = ("agent", "supervisor", "ops", "admin")
# Roles that work the handoff queue.
DESK_ROLES = ("agent", "supervisor", "admin")
SKILL_GROUPS = ("general", "vip", "disputes")
JWT_ALGORITHM = "HS256"

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


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


def create_access_token(user: StaffUser, settings: Settings | None = None,
                        ttl: timedelta | None = None) -> str:
    """A signed JWT for a staff user: sub = username, role, exp."""
    settings = settings or get_settings()
    now = datetime.now(timezone.utc)
    ttl = ttl if ttl is not None else timedelta(minutes=settings.jwt_ttl_minutes)
    claims = {"sub": user.username, "role": user.role, "uid": user.id,
              "iat": int(now.timestamp()), "exp": int((now + ttl).timestamp())}
    return jwt.encode(claims, settings.jwt_secret, algorithm=JWT_ALGORITHM)


def _unauthorized(code: str, zh: str, en: str) -> ApiError:
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
        raise _unauthorized("token_expired", "登录已过期，请重新登录。",
                            "Token has expired; sign in again.") from exc
    except jwt.InvalidTokenError as exc:
        raise _unauthorized("invalid_token", "登录凭证无效，请重新登录。",
                            "Invalid token.") from exc
    return claims


def user_from_token(db: Session, token: str | None) -> StaffUser:
    """The active staff user a bearer token belongs to (401 otherwise)."""
    if not token:
        raise _unauthorized("not_authenticated", "请先登录。", "Not authenticated.")
    claims = decode_token(token)
    user = db.scalars(select(StaffUser).where(StaffUser.username == claims["sub"])).first()
    if user is None or not user.active:
        raise _unauthorized("invalid_token", "账号不存在或已停用，请重新登录。",
                            "Unknown or disabled account.")
    return user


def current_user(token: Annotated[str | None, Depends(oauth2_scheme)],
                 db: Annotated[Session, Depends(session_scope)]) -> StaffUser:
    """FastAPI dependency: the signed-in staff user."""
    return user_from_token(db, token)


def require_role(*roles: str) -> Callable[..., StaffUser]:
    """Dependency factory: the signed-in user, if their role is one of `roles` (else 403)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")

    def _check(user: Annotated[StaffUser, Depends(current_user)]) -> StaffUser:
        if user.role not in roles:
            raise ApiError(403, "forbidden", "您没有权限进行此操作。",
                           f"Role '{user.role}' may not do this; needs one of {list(roles)}.")
        return user

    return _check


def authenticate(db: Session, username: str, password: str) -> StaffUser | None:
    """The active user with these credentials, or None."""
    user = db.scalars(select(StaffUser).where(StaffUser.username == username)).first()
    if user is None or not user.active:
        hash_password("timing-equaliser")  # same cost whether or not the user exists
        return None
    return user if verify_password(password, user.password_hash) else None


def create_user(db: Session, username: str, password: str, role: str, *,
                display_name: str = "", agent_no: str | None = None,
                groups: list[str] | None = None, capacity: int | None = None,
                password_hash: str | None = None) -> StaffUser:
    """Create a staff account (committed)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    settings = get_settings()
    user = StaffUser(username=username, role=role,
                     password_hash=password_hash or hash_password(password, settings),
                     display_name=display_name or username, agent_no=agent_no,
                     groups=list(groups if groups is not None else
                                 (SKILL_GROUPS if role in DESK_ROLES else ())),
                     capacity=capacity if capacity is not None else
                     settings.handoff_agent_capacity)
    db.add(user)
    db.commit()
    return user


@lru_cache(maxsize=16)
def _seed_hash(password: str, rounds: int) -> str:
    # Demo passwords are hashed once per process (test suites start many apps).
    return _hasher(rounds).hash(password)


DEMO_ACCOUNTS = (
    # (settings prefix, role, display name, 工号)
    ("demo_agent", "agent", "客服小王", "1001"),
    ("demo_supervisor", "supervisor", "班长刘洋", "2001"),
    ("demo_ops", "ops", "运营小周", None),
    ("demo_admin", "admin", "系统管理员", None),
)


def seed_demo_users(sessions: sessionmaker[Session], settings: Settings) -> list[str]:
    """Create the demo accounts of .env.example (development/test only); return those created.

    An existing account keeps its data; only its password is reset to the configured one.
    """
    if settings.app_env == "production":
        return []
    created = []
    with sessions() as db:
        for prefix, role, name, number in DEMO_ACCOUNTS:
            username = getattr(settings, f"{prefix}_user")
            password = getattr(settings, f"{prefix}_password")
            if not username or not password:
                continue
            user = db.scalars(select(StaffUser).where(StaffUser.username == username)).first()
            if user is None:
                create_user(db, username, password, role, display_name=name, agent_no=number,
                            password_hash=_seed_hash(password, settings.bcrypt_rounds))
                created.append(username)
            elif not verify_password(password, user.password_hash):
                user.password_hash = _seed_hash(password, settings.bcrypt_rounds)
                db.commit()
    if created:
        logger.info("seeded demo staff accounts: %s", ", ".join(created))
    return created
