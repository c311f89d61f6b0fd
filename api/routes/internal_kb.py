"""POST /internal/v1/kb/search: KB retrieval for the action server (internal, bearer token)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.core.errors import ApiError
from api.deps import KBDep
from knowledge_base.search.service import KBNotReady, UnknownEntry

MAX_QUERY_CHARS = 500

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


class KBSearchRequest(BaseModel):
    """Exactly one of `query` (free text) or `entry_id` (a button the cardholder clicked)."""

    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(default=None, description="1–500 characters after trimming")
    entry_id: str | None = Field(default=None, min_length=1, max_length=64)
    channel: Literal["web", "app", "wechat"] = "web"
    top_k: int = Field(default=5, ge=1, le=20)

    @field_validator("query")
    @classmethod
    def _query_length(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise ValueError("query is empty")
        if len(value) > MAX_QUERY_CHARS:
            raise ValueError(f"query is longer than {MAX_QUERY_CHARS} characters")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> KBSearchRequest:
        if (self.query is None) == (self.entry_id is None):
            raise ValueError("send exactly one of query or entry_id")
        return self


class KBAnswer(BaseModel):
    text: str
    buttons: list[dict[str, str]] = Field(default_factory=list)
    links: list[dict[str, str]] = Field(default_factory=list)
    image: str | None = None


class KBRelated(BaseModel):
    entry_id: str
    question: str


class KBHit(BaseModel):
    entry_id: str
    question: str
    category: str
    score: float = Field(description="Entry score on the cosine scale (1.0 for entry_id lookups)")
    matched_question: str
    answer: KBAnswer
    related: list[KBRelated] = Field(description="猜你想问: up to 3 neighbouring entries")


class KBSearchResponse(BaseModel):
    decision: Literal["answer", "clarify", "fallback"]
    release: int
    thresholds: dict[str, float] = Field(
        description="Calibrated thresholds: `answer` on P(top hit right), "
                    "`clarify` on P(right entry in the top 3)")
    confidence: dict[str, float] | None = Field(
        default=None, description="This query's P(top hit right) and P(right entry in top 3)")
    corrected_query: str | None = Field(
        default=None, description="The query as searched when homophone typos of card terms "
                                  "were corrected (注消 -> 注销); null when unchanged")
    hits: list[KBHit]


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
    # A plain `def`: encoding is CPU work, so FastAPI runs it in the threadpool.
    try:
        return kb.search(body.query, entry_id=body.entry_id, channel=body.channel,
                         top_k=body.top_k)
    except KBNotReady as exc:
        raise ApiError(503, "kb_unavailable", "知识库正在加载或暂不可用，请稍后再试。",
                       f"Knowledge base not ready: {exc}") from exc
    except UnknownEntry as exc:
        raise ApiError(404, "kb_entry_not_found", "未找到该知识条目。",
                       f"Unknown KB entry id: {body.entry_id}") from exc
