"""POST /internal/v1/kb/search: KB retrieval for the action server (internal, bearer token)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.core.errors import ApiError
from api.deps import KBDep
from api.schemas.internal_kb import KBSearchRequest, KBSearchResponse

_bearer = HTTPBearer(auto_error=False, description="INTERNAL_API_TOKEN")


def require_internal_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless the request carries `Authorization: Bearer <INTERNAL_API_TOKEN>`."""
    expected = request.app.state.settings.internal_api_token
    given = credentials.credentials if credentials else ""
    # Constant-time comparison, so response timing does not leak the token prefix.
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        error = ApiError(401, "unauthorized", "未授权的请求。",
                         "Missing or invalid internal API token.")
        error.headers = {"WWW-Authenticate": "Bearer"}
        raise error


router = APIRouter(prefix="/internal/v1/kb", tags=["internal"],
                   dependencies=[Depends(require_internal_token)])


@router.post(
    "/search",
    response_model=KBSearchResponse,
    include_in_schema=True,
    summary="Search the knowledge base (internal)",
    description="Internal endpoint for the action server; not part of the public API. "
                "Requires `Authorization: Bearer <INTERNAL_API_TOKEN>`.",
    responses={401: {"description": "Missing or invalid token"},
               404: {"description": "Unknown entry_id"},
               422: {"description": "Invalid body"},
               503: {"description": "Knowledge base not loaded yet"}},
)
def search(body: KBSearchRequest, kb: KBDep) -> dict[str, Any]:
    # A plain `def`: encoding is CPU work, so FastAPI runs it in the threadpool. KBNotReady
    # (503) and UnknownEntry (404) are mapped by api/core/errors.py.
    return kb.search(body.query, entry_id=body.entry_id, channel=body.channel, top_k=body.top_k)
