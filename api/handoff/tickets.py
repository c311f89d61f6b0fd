"""Leave a message: outside working hours or after a queue timeout the cardholder leaves a
question and a callback number (a ticket the console lists); the sweeper applies the timeout."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.conversation.rasa_client import RasaClient
from api.handoff import texts
from api.handoff.hub import STAFF
from api.handoff.queue import aware
from api.handoff.rasa_sync import RasaSync
from api.handoff.views import HandoffReply, MessageView, TicketView
from api.models import Handoff, StaffUser, Ticket
from api.models.conversation import reply_language
from pii import mask
from vocab import DomainError, ErrorKind, Outcome, Sender, State

logger = logging.getLogger(__name__)

CANCEL_TICKET_PAYLOAD = "/cancel_ticket"
CANCEL_TICKET_WORDS = frozenset({"取消", "取消留言", "不留言了", "不用了", CANCEL_TICKET_PAYLOAD})
MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")
LANDLINE = re.compile(r"^(0\d{2,3}\d{7,8})$")


def normalise_phone(text: str) -> str | None:
    """A callback number from free text: mainland mobile or landline with area code."""
    digits = re.sub(r"[\s\-()（）]", "", text)
    for pattern in (MOBILE, LANDLINE):
        match = pattern.match(digits)
        if match:
            return match.group(1)
    return None


class Tickets(RasaSync):
    """Tickets, the queue timeout and its sweeper."""

    def _open_ticket(self, db: Session, handoff: Handoff, cause: str) -> MessageView:
        db.add(Ticket(conversation_id=handoff.conversation_id, handoff_id=handoff.id,
                      user_id=handoff.user_id, channel=handoff.channel, cause=cause,
                      reason=handoff.reason, group=handoff.group, tier=handoff.tier,
                      priority=handoff.priority, created_at=self.clock()))
        lang = reply_language(db, handoff.conversation_id)
        if cause == "outside_hours":
            lead = texts.text("ticket_outside_hours", lang, hours=self.hours.describe(lang))
        else:
            minutes = max(1, self.settings.handoff_queue_timeout_seconds // 60)
            lead = texts.text("ticket_busy", lang, minutes=minutes)
        return self._store(db, handoff.conversation_id, Sender.SYSTEM,
                           texts.text("ticket_prompt", lang, lead=lead), outcome=Outcome.TICKET,
                           buttons=[{"title": texts.text("btn_cancel_ticket", lang),
                                     "payload": CANCEL_TICKET_PAYLOAD}])

    def _timed_out(self, handoff: Handoff, now: datetime | None = None) -> bool:
        limit = timedelta(seconds=self.settings.handoff_queue_timeout_seconds)
        return (now or self.clock()) - aware(handoff.queued_at) >= limit

    def _timeout(self, db: Session, handoff: Handoff) -> MessageView:
        self._apply(db, handoff.conversation_id, "timeout", "system", handoff,
                    expected=State.QUEUED)
        return self._open_ticket(db, handoff, "timeout")

    def sweep(self) -> int:
        """Move conversations that waited longer than the queue timeout to the ticket flow."""
        moved = 0
        now = self.clock()
        with self._sessions() as db:
            for handoff in self._queued(db):
                if not self._timed_out(handoff, now):
                    continue
                try:
                    msg = self._timeout(db, handoff)
                except DomainError:  # accepted or cancelled meanwhile
                    continue
                self._emit_message(db, handoff.conversation_id, msg, to_user=True)
                self._emit_state(db, handoff.conversation_id)
                db.commit()
                moved += 1
        return moved

    async def run_sweeper(self) -> None:
        """Background task (FastAPI lifespan): apply the queue timeout every few seconds."""
        while True:
            await asyncio.sleep(self.settings.handoff_sweep_seconds)
            try:
                await asyncio.to_thread(self.sweep)
            except Exception:
                logger.exception("handoff sweep failed")

    async def _ticket_turn(self, rasa: RasaClient, db: Session, handoff: Handoff,
                           text: str) -> HandoffReply:
        ticket = db.scalars(select(Ticket).where(Ticket.handoff_id == handoff.id)
                            .order_by(Ticket.id.desc())).first()
        lang = reply_language(db, handoff.conversation_id)
        if ticket is None or text in CANCEL_TICKET_WORDS or text.strip().lower() in (
                "cancel", "cancel the message"):
            if ticket is not None:
                ticket.status = "cancelled"
            self._finish(db, handoff, "ticket_done", "user", "ticket_cancelled")
            msg = self._store(db, handoff.conversation_id, Sender.SYSTEM,
                              texts.text("ticket_cancelled", lang),
                              outcome=Outcome.TICKET)
            self._emit_state(db, handoff.conversation_id)
            db.commit()
            await self.ensure_resumed(rasa, handoff.conversation_id)
            return HandoffReply(Outcome.TICKET, [msg], {"state": State.BOT.value,
                                                        "ticket": {"status": "cancelled"}})
        if ticket.step == "message":
            ticket.message = mask(text)[:2000]
            ticket.step = "phone"
            msg = self._store(db, handoff.conversation_id, Sender.SYSTEM,
                              texts.text("ticket_phone", lang),
                              outcome=Outcome.TICKET)
            db.commit()
            return HandoffReply(Outcome.TICKET, [msg], {"state": State.TICKET.value,
                                                        "ticket": {"id": ticket.id,
                                                                   "step": "phone"}})
        number = normalise_phone(text)
        if number is None:
            msg = self._store(db, handoff.conversation_id, Sender.SYSTEM,
                              texts.text("ticket_phone_invalid", lang), outcome=Outcome.TICKET)
            db.commit()
            return HandoffReply(Outcome.TICKET, [msg], {"state": State.TICKET.value,
                                                        "ticket": {"id": ticket.id,
                                                                   "step": "phone"}})
        ticket.callback_number = self.vault.seal(number)  # agents dial it: sealed, not masked
        ticket.status = "open"
        ticket.step = "done"
        ticket.submitted_at = self.clock()
        self._finish(db, handoff, "ticket_done", "user", ticket.cause)
        msg = self._store(db, handoff.conversation_id, Sender.SYSTEM,
                          texts.text("ticket_done", lang, ticket=ticket.id, last4=number[-4:]),
                          outcome=Outcome.TICKET)
        self._emit(db, STAFF, {"type": "tickets"})
        self._emit_state(db, handoff.conversation_id)
        db.commit()
        await self.ensure_resumed(rasa, handoff.conversation_id)
        return HandoffReply(Outcome.TICKET, [msg], {"state": State.BOT.value,
                                                    "ticket": {"id": ticket.id,
                                                               "status": "open"}})

    def close_ticket(self, ticket_id: int, agent: StaffUser, note: str = "") -> TicketView:
        with self._sessions() as db:
            ticket = db.get(Ticket, ticket_id)
            if ticket is None:
                raise DomainError(ErrorKind.NOT_FOUND, "ticket_not_found", "没有找到这个工单。",
                                  "ticket not found")
            if ticket.status != "open":
                raise DomainError(ErrorKind.CONFLICT, "ticket_not_open", "该工单不是待处理状态。",
                                  f"Ticket is '{ticket.status}', not open.")
            ticket.status = "closed"
            ticket.closed_at = self.clock()
            ticket.closed_by = agent.id
            ticket.note = mask(note)[:1000]
            self._emit(db, STAFF, {"type": "tickets"})
            db.commit()
            return self._ticket_view(ticket)
