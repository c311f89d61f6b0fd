"""Annotated dependency aliases shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from knowledge_base.service import KnowledgeService
from sqlalchemy.orm import Session

from api.db import session_scope
from api.gateway import Gateway
from api.settings import Settings, get_settings


def _gateway(request: Request) -> Gateway:
    return request.app.state.gateway


def _kb(request: Request) -> KnowledgeService:
    return request.app.state.kb


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(session_scope)]
GatewayDep = Annotated[Gateway, Depends(_gateway)]
KBDep = Annotated[KnowledgeService, Depends(_kb)]
