"""Pydantic models of staff sign-in."""

from __future__ import annotations

from pydantic import BaseModel

from api.models import StaffUser


class StaffPublic(BaseModel):
    """A staff account as the consoles show it."""

    id: int
    username: str
    role: str
    display_name: str
    agent_no: str | None = None
    groups: list[str] = []
    capacity: int
    status: str

    @classmethod
    def of(cls, user: StaffUser) -> StaffPublic:
        return cls(id=user.id, username=user.username, role=user.role,
                   display_name=user.display_name, agent_no=user.agent_no,
                   groups=list(user.groups or []), capacity=user.capacity, status=user.status)


class TokenPublic(BaseModel):
    """OAuth2 token response (plus who signed in)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user: StaffPublic
