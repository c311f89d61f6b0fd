"""Annotated dependency aliases shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.conversation.gateway import Gateway
from api.conversation.rasa_client import RasaClient
from api.core.config import Settings, get_settings
from api.core.db import session_scope
from api.core.security import DESK_ROLES, current_user, require_role
from api.handoff.hub import Hub
from api.handoff.service import HandoffService
from api.kbops import KB_EDIT_ROLES, KB_PUBLISH_ROLES, kb_session
from api.models import StaffUser
from knowledge_base.search.service import KnowledgeService


def _gateway(request: Request) -> Gateway:
    return request.app.state.gateway


def _kb(request: Request) -> KnowledgeService:
    return request.app.state.kb


def _handoff(request: Request) -> HandoffService:
    return request.app.state.gateway.handoff


def _hub(request: Request) -> Hub:
    return request.app.state.gateway.handoff.hub


def _rasa(request: Request) -> RasaClient:
    return request.app.state.rasa


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(session_scope)]
GatewayDep = Annotated[Gateway, Depends(_gateway)]
KBDep = Annotated[KnowledgeService, Depends(_kb)]
HandoffDep = Annotated[HandoffService, Depends(_handoff)]
HubDep = Annotated[Hub, Depends(_hub)]
RasaDep = Annotated[RasaClient, Depends(_rasa)]
# Signed-in staff (any role), and staff allowed to work the handoff desk.
CurrentStaff = Annotated[StaffUser, Depends(current_user)]
DeskAgent = Annotated[StaffUser, Depends(require_role(*DESK_ROLES))]
# KB ops console: its database session, staff who edit drafts, staff who publish / roll back.
KBSessionDep = Annotated[Session, Depends(kb_session)]
KBEditorStaff = Annotated[StaffUser, Depends(require_role(*KB_EDIT_ROLES))]
KBPublisherStaff = Annotated[StaffUser, Depends(require_role(*KB_PUBLISH_ROLES))]
