"""Annotated dependency aliases shared by the routes, and the staff guards.

Routes take what they need as parameters (`db: SessionDep`, `agent: DeskAgent`, …); the
objects built once per process live on `app.state` (see `api/main.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from sqlalchemy.orm import Session

from api.conversation.gateway import Gateway
from api.conversation.rasa_client import RasaClient
from api.core.config import Settings, get_settings
from api.core.db import session_scope
from api.core.errors import ApiError
from api.core.identity import conversation_of_token
from api.core.ratelimit import RateLimiter
from api.handoff.hub import Hub
from api.handoff.service import HandoffService
from api.models import StaffUser
from api.quality.service import QualityInspector
from api.staff import user_from_token
from knowledge_base.search.reloader import Reloader
from knowledge_base.search.service import KnowledgeService
from vocab import (
    DESK_LEADS,
    DESK_ROLES,
    INSIGHTS_ROLES,
    KB_EDIT_ROLES,
    KB_PUBLISH_ROLES,
    QUALITY_REVIEW_ROLES,
    ROLES,
)

# The dependencies below only read what `create_app` built (app.state, the cached settings):
# `async def`, so FastAPI calls them on the event loop. A plain `def` dependency is run in a
# worker thread, one thread hop (a wake-up waiting for a core) per dependency per request.


async def _settings() -> Settings:
    return get_settings()


oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
# The cardholder's per-conversation credential (`conversation_token` of POST /api/v1/chat).
conversation_bearer = HTTPBearer(auto_error=False, scheme_name="conversation_token",
                                 description="conversation_token returned by POST /api/v1/chat")


async def _gateway(request: Request) -> Gateway:
    return request.app.state.gateway


async def _kb(request: Request) -> KnowledgeService:
    return request.app.state.kb


async def _reloader(request: Request) -> Reloader:
    return request.app.state.kb_reloader


async def _handoff(request: Request) -> HandoffService:
    return request.app.state.gateway.handoff


async def _hub(request: Request) -> Hub:
    return request.app.state.gateway.handoff.hub


async def _rasa(request: Request) -> RasaClient:
    return request.app.state.rasa


async def _limiter(request: Request) -> RateLimiter:
    return request.app.state.limiter


def conversation_not_found() -> ApiError:
    """The one answer to a missing, wrong or foreign credential (no existence oracle)."""
    return ApiError(404, "conversation_not_found", "没有找到这个会话。",
                    "No such conversation, or no valid conversation_token for it.")


def owned_conversation(
        conversation_id: str,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(conversation_bearer)],
        settings: Annotated[Settings, Depends(_settings)]) -> str:
    """The path's conversation id, if the bearer token is that conversation's (else 404)."""
    token = credentials.credentials if credentials is not None else None
    if conversation_of_token(token, settings.conversation_token_secret) != conversation_id:
        raise conversation_not_found()
    return conversation_id
def _inspector(settings: Annotated[Settings, Depends(_settings)]) -> QualityInspector:
    return QualityInspector(first_response_seconds=settings.quality_first_response_seconds,
                            reply_seconds=settings.quality_reply_seconds,
                            risk_threshold=settings.quality_risk_threshold)


def current_user(token: Annotated[str | None, Depends(oauth2_scheme)],
                 db: Annotated[Session, Depends(session_scope)]) -> StaffUser:
    """The signed-in staff user (401 without a valid token)."""
    return user_from_token(db, token)


def require_role(*roles: str) -> Callable[..., StaffUser]:
    """Dependency factory: the signed-in user, if their role is one of `roles` (else 403)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")

    def _check(user: Annotated[StaffUser, Depends(current_user)]) -> StaffUser:
        if user.role not in roles:
            raise ApiError(403, "forbidden", "您没有权限进行此操作。",
                           f"Role '{user.role}' may not do this; needs one of "
                           f"{[str(r) for r in roles]}.")
        return user

    return _check


SettingsDep = Annotated[Settings, Depends(_settings)]
SessionDep = Annotated[Session, Depends(session_scope)]
GatewayDep = Annotated[Gateway, Depends(_gateway)]
KBDep = Annotated[KnowledgeService, Depends(_kb)]
ReloaderDep = Annotated[Reloader, Depends(_reloader)]
HandoffDep = Annotated[HandoffService, Depends(_handoff)]
HubDep = Annotated[Hub, Depends(_hub)]
RasaDep = Annotated[RasaClient, Depends(_rasa)]
LimiterDep = Annotated[RateLimiter, Depends(_limiter)]
# A conversation endpoint's path id, checked against `Authorization: Bearer <conversation_token>`.
OwnedConversation = Annotated[str, Depends(owned_conversation)]
# Signed-in staff (any role), and staff allowed to work the handoff desk.
CurrentStaff = Annotated[StaffUser, Depends(current_user)]
DeskAgent = Annotated[StaffUser, Depends(require_role(*DESK_ROLES))]
# Supervisors and admins: desk management (secretary assignments).
DeskLead = Annotated[StaffUser, Depends(require_role(*DESK_LEADS))]
# KB ops console: staff who edit drafts, staff who publish / roll back.
KBEditorStaff = Annotated[StaffUser, Depends(require_role(*KB_EDIT_ROLES))]
KBPublisherStaff = Annotated[StaffUser, Depends(require_role(*KB_PUBLISH_ROLES))]
# Service insights: the dashboard (ops read it too) and the quality review (supervisors).
InsightsStaff = Annotated[StaffUser, Depends(require_role(*INSIGHTS_ROLES))]
QualityReviewer = Annotated[StaffUser, Depends(require_role(*QUALITY_REVIEW_ROLES))]
InspectorDep = Annotated[QualityInspector, Depends(_inspector)]
