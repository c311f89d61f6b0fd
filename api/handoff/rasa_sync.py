"""Keep the Rasa tracker in step with the human desk.

The tracker is paused while a human flow owns the conversation and resumed when it returns to
the bot (retried before the next bot turn if Rasa was down). What the cardholder and the agent
say meanwhile is appended (user -> `user` event, agent -> `bot` event with `metadata.agent`), so
the bot has the context when it resumes. The Rasa client is an argument, so a test can swap it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from anyio import to_thread
from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from api.conversation.rasa_client import RasaClient, RasaUnavailable
from api.handoff.read_models import ReadModels
from api.handoff.views import AgentView
from api.models import Handoff
from pii import mask

logger = logging.getLogger(__name__)


class RasaSync(ReadModels):
    """Pause, resume and mirror messages into the Rasa tracker."""

    async def _rasa_events(self, rasa: RasaClient, conversation_id: str,
                           events: list[dict[str, Any]]) -> bool:
        try:
            await rasa.append_events(conversation_id, events)
            return True
        except RasaUnavailable as exc:
            logger.error("could not append %s to the Rasa tracker of %s: %s",
                         [e["event"] for e in events], conversation_id, exc)
            return False

    async def _pause(self, rasa: RasaClient, conversation_id: str, handoff_id: int) -> None:
        if await self._rasa_events(rasa, conversation_id,
                                   [{"event": "pause", "timestamp": time.time()}]):
            with self._sessions() as db:
                h = db.get(Handoff, handoff_id)
                if h is not None:
                    h.rasa_paused = True
                    db.commit()

    def _paused_after_end(self, conversation_id: str) -> list[int]:
        with self._sessions() as db:
            return self.paused_after_end_in(db, conversation_id)

    @staticmethod
    def paused_after_end_exists(conversation_id: ColumnElement[str]) -> ColumnElement[bool]:
        """Whether an ended handoff of the conversation left its Rasa tracker paused, as a
        (correlated) SQL expression: the gateway asks it in its conversation lookup and runs
        `paused_after_end_in` only when it is true (one statement less per usual turn)."""
        return exists().where(Handoff.conversation_id == conversation_id,
                              Handoff.ended_at.is_not(None), Handoff.rasa_paused.is_(True))

    @staticmethod
    def paused_after_end_in(db: Session, conversation_id: str) -> list[int]:
        """Ended handoffs whose Rasa tracker is still paused, in the caller's session (the
        gateway asks in the turn's first database step: no extra worker-thread hop)."""
        return list(db.scalars(select(Handoff.id).where(
            Handoff.conversation_id == conversation_id, Handoff.ended_at.is_not(None),
            Handoff.rasa_paused.is_(True))))

    async def resume_pending(self, rasa: RasaClient, conversation_id: str,
                             pending: list[int]) -> None:
        """`ensure_resumed` with the paused handoffs already looked up."""
        if pending and await self._rasa_events(
                rasa, conversation_id, [{"event": "resume", "timestamp": time.time()}]):
            await to_thread.run_sync(self._mark_resumed, pending)

    def _mark_resumed(self, handoff_ids: list[int]) -> None:
        with self._sessions() as db:
            for hid in handoff_ids:
                h = db.get(Handoff, hid)
                if h is not None:
                    h.rasa_paused = False
            db.commit()

    async def ensure_resumed(self, rasa: RasaClient, conversation_id: str) -> None:
        """Resume the Rasa tracker if a finished handoff left it paused (e.g. Rasa was down).
        Runs before every bot turn: its database work stays off the event loop."""
        pending = await to_thread.run_sync(self._paused_after_end, conversation_id)
        await self.resume_pending(rasa, conversation_id, pending)

    async def mirror_user(self, rasa: RasaClient, conversation_id: str, text: str) -> None:
        """Append what the cardholder said to the human to the (paused) Rasa tracker.

        Rasa 3.6 answers 500 to a user event without `parse_data`; an empty one (no intent,
        since NLU never ran on it) is accepted and the policies predict normally after resume.
        """
        await self._rasa_events(rasa, conversation_id, [{
            "event": "user", "text": mask(text), "parse_data": {}, "timestamp": time.time(),
            "metadata": {"handoff": True}}])

    async def mirror_agent(self, rasa: RasaClient, conversation_id: str, text: str,
                           agent: AgentView) -> None:
        await self._rasa_events(rasa, conversation_id, [{
            "event": "bot", "text": mask(text), "timestamp": time.time(),  # no PII at rest
            "metadata": {"agent": agent}}])
