"""Staff accounts: sign-in, who a bearer token belongs to, and the demo accounts.

The token's subject is re-read from the database on every request, so a deactivated account or
a changed role takes effect at once.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.core.config import Settings, get_settings
from api.core.security import _hasher, decode_token, hash_password, unauthorized, verify_password
from api.models import StaffUser
from vocab import DESK_ROLES, ROLES, SKILL_GROUPS, Role

logger = logging.getLogger(__name__)


def user_from_token(db: Session, token: str | None) -> StaffUser:
    """The active staff user a bearer token belongs to (401 otherwise)."""
    if not token:
        raise unauthorized("not_authenticated", "请先登录。", "Not authenticated.")
    claims = decode_token(token)
    user = db.scalars(select(StaffUser).where(StaffUser.username == claims["sub"])).first()
    if user is None or not user.active:
        raise unauthorized("invalid_token", "账号不存在或已停用，请重新登录。",
                            "Unknown or disabled account.")
    return user


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
                     groups=[str(g) for g in (groups if groups is not None else
                                              (SKILL_GROUPS if role in DESK_ROLES else ()))],
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
    ("demo_agent", Role.AGENT, "客服小王", "1001"),
    ("demo_supervisor", Role.SUPERVISOR, "班长刘洋", "2001"),
    ("demo_ops", Role.OPS, "运营小周", None),
    ("demo_admin", Role.ADMIN, "系统管理员", None),
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
