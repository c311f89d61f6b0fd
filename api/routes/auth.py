"""Staff sign-in: POST /api/v1/auth/token (OAuth2 password flow) and GET /api/v1/auth/me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from api.core.errors import ApiError
from api.core.security import create_access_token
from api.deps import CurrentStaff, SessionDep, SettingsDep
from api.schemas.auth import StaffPublic, TokenPublic
from api.staff import authenticate

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=TokenPublic)
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], db: SessionDep,
          settings: SettingsDep) -> TokenPublic:
    """Exchange username + password for a bearer JWT."""
    user = authenticate(db, form.username.strip(), form.password)
    if user is None:
        err = ApiError(401, "bad_credentials", "用户名或密码错误。",
                       "Incorrect username or password.")
        err.headers = {"WWW-Authenticate": "Bearer"}
        raise err
    return TokenPublic(access_token=create_access_token(user, settings),
                       expires_in=settings.jwt_ttl_minutes * 60, user=StaffPublic.of(user))


@router.get("/me", response_model=StaffPublic)
def me(user: CurrentStaff) -> StaffPublic:
    """The signed-in staff user."""
    return StaffPublic.of(user)
