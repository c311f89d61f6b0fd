"""Staff sign-in: POST /api/v1/auth/token (OAuth2 password flow) and GET /api/v1/auth/me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api.core.errors import ApiError
from api.core.ratelimit import too_many
from api.core.security import create_access_token
from api.deps import CurrentStaff, LimiterDep, SessionDep, SettingsDep
from api.schemas.auth import StaffPublic, TokenPublic
from api.staff import authenticate

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=TokenPublic)
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request,
          db: SessionDep, settings: SettingsDep, limiter: LimiterDep) -> TokenPublic:
    """Exchange username + password for a bearer JWT.

    After RATE_LIMIT_LOGIN_FAILURES failed attempts for one account (or from one address) the
    sign-in is locked until the window has passed (429, Retry-After), even with the right
    password.
    """
    username = form.username.strip()
    rule = settings.rate_limit_login_failures
    keys = (("login_user", username.lower()),
            ("login_ip", request.client.host if request.client else "unknown"))
    waits = [w for name, key in keys if (w := limiter.blocked(name, rule, key)) is not None]
    if waits:
        minutes = max(1, -(-max(waits) // 60))
        raise too_many(max(waits), f"登录失败次数过多，账号已临时锁定，请 {minutes} 分钟后再试。",
                       f"Too many failed sign-ins; locked, retry in {max(waits)} s.",
                       code="login_locked")
    user = authenticate(db, username, form.password)
    if user is None:
        for name, key in keys:
            limiter.hit(name, rule, key)
        err = ApiError(401, "bad_credentials", "用户名或密码错误。",
                       "Incorrect username or password.")
        err.headers = {"WWW-Authenticate": "Bearer"}
        raise err
    limiter.clear("login_user", rule, username.lower())
    return TokenPublic(access_token=create_access_token(user, settings),
                       expires_in=settings.jwt_ttl_minutes * 60, user=StaffPublic.of(user))


@router.get("/me", response_model=StaffPublic)
def me(user: CurrentStaff) -> StaffPublic:
    """The signed-in staff user."""
    return StaffPublic.of(user)
