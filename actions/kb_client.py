"""HTTP client for the retrieval service (runs in the service runtime, see knowledge_base/)."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from actions.settings import get_settings

logger = logging.getLogger(__name__)


class KBUnavailable(Exception):
    """The retrieval service could not be reached or answered with an error."""


async def search(
    query: str | None = None,
    *,
    entry_id: str | None = None,
    channel: str = "web",
    top_k: int = 5,
) -> dict[str, Any]:
    """POST /internal/v1/kb/search and return its JSON body."""
    settings = get_settings()
    body: dict[str, Any] = {"top_k": top_k, "channel": channel}
    if entry_id:
        body["entry_id"] = entry_id
    else:
        body["query"] = query
    headers = {"Authorization": f"Bearer {settings.internal_api_token}"}
    timeout = aiohttp.ClientTimeout(total=settings.kb_timeout)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(settings.kb_search_url, json=body, headers=headers) as resp,
        ):
            if resp.status != 200:
                detail = await resp.text()
                raise KBUnavailable(f"search returned {resp.status}: {detail[:200]}")
            return await resp.json()
    except (aiohttp.ClientError, TimeoutError) as exc:
        logger.warning("KB search failed: %s", exc)
        raise KBUnavailable(str(exc)) from exc
