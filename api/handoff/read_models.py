"""Read side of the handoff: status and queue position, transcripts, the agent's queue and
held conversations, tickets. Returns the typed views of `api/handoff/views.py`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.handoff import queue as hq
from api.handoff.core import HandoffCore
from api.handoff.hub import STAFF, conversation_topic
from api.handoff.profiles import TIER_LABELS
from api.handoff.queue import QueueView, aware
from api.handoff.secretary import offer_active
from api.handoff.state import current_state
from api.handoff.views import (
    HandoffView,
    HeldItemView,
    MessagesView,
    MessageView,
    QueueItemView,
    StatusView,
    SurveyView,
    TicketView,
    TranscriptView,
    TransitionView,
    agent_view,
    iso,
    message_view,
)
from api.models import (
    Conversation,
    Handoff,
    KBEvent,
    Message,
    Secretary,
    StaffUser,
    Survey,
    Ticket,
    Transition,
)
from vocab import DESK_LEADS, Sender, State


class ReadModels(HandoffCore):
    """Queries of the desk and the widget."""

    def queue_info(self, db: Session, handoff: Handoff) -> QueueView:
        info = hq.queue_info(handoff, self._queued(db), self._desk_staff(db),
                             self.settings.handoff_avg_handle_seconds)
        return info.public()

    def status(self, db: Session, conversation_id: str) -> StatusView:
        """State, queue position / agent, for the widget."""
        state = current_state(db, conversation_id)
        out: StatusView = {"conversation_id": conversation_id, "state": state.value}
        handoff = self.current(db, conversation_id)
        if handoff is None:
            return out
        if state == State.QUEUED:
            out["queue"] = self.queue_info(db, handoff)
        if state in (State.ASSIGNED, State.RESOLVED) and handoff.agent_id:
            agent = db.get(StaffUser, handoff.agent_id)
            if agent is not None:
                out["agent"] = agent_view(agent)
        return out

    def _emit_state(self, db: Session, conversation_id: str) -> None:
        """Tell the widget and the consoles the new state; refresh everyone's queue position."""
        status = self.status(db, conversation_id)
        self._emit(db, conversation_topic(conversation_id), {"type": "state", **status})
        self._emit(db, STAFF, {"type": "state", **status})
        self._emit_positions(db)

    def get_status(self, conversation_id: str) -> StatusView:
        with self._sessions() as db:
            self._require_conversation(db, conversation_id)
            return self.status(db, conversation_id)

    def messages_after(self, conversation_id: str, after: int = 0,
                       limit: int = 200) -> MessagesView:
        """Transcript lines with id > `after` (the cursor), oldest first."""
        with self._sessions() as db:
            self._require_conversation(db, conversation_id)
            rows = db.scalars(select(Message).where(Message.conversation_id == conversation_id,
                                                    Message.id > after)
                              .order_by(Message.id).limit(limit)).all()
            messages = [message_view(r) for r in rows]
            return {**self.status(db, conversation_id), "messages": messages,
                    "next_cursor": messages[-1]["id"] if messages else after}

    def transcript(self, conversation_id: str) -> TranscriptView:
        """Everything an agent needs: transcript with the KB entry/score of bot turns, profile,
        the current episode, surveys and the state history."""
        with self._sessions() as db:
            conv = self._require_conversation(db, conversation_id)
            rows = db.scalars(select(Message).where(Message.conversation_id == conversation_id)
                              .order_by(Message.id)).all()
            events = {e.user_message_id: e for e in db.scalars(
                select(KBEvent).where(KBEvent.conversation_id == conversation_id))}
            messages: list[MessageView] = []
            turn_kb = None
            for row in rows:
                item = message_view(row)
                if row.sender == Sender.USER:
                    event = events.get(row.id)
                    turn_kb = None if event is None else {
                        "entry_id": event.entry_id, "score": event.score,
                        "outcome": event.outcome, "release": event.release,
                        "kb_event_id": event.id,
                        "candidates": ((event.details or {}).get("kb") or {}).get("candidates")}
                elif row.sender == Sender.BOT and turn_kb is not None:
                    item["kb"] = turn_kb  # type: ignore[typeddict-unknown-key]
                messages.append(item)
            handoff = self.current(db, conversation_id) or db.scalars(
                select(Handoff).where(Handoff.conversation_id == conversation_id)
                .order_by(Handoff.id.desc())).first()
            transitions = db.scalars(select(Transition)
                                     .where(Transition.conversation_id == conversation_id)
                                     .order_by(Transition.id)).all()
            surveys = db.scalars(select(Survey).where(Survey.conversation_id == conversation_id)
                                 .order_by(Survey.id)).all()
            history: list[TransitionView] = [
                {"from": t.from_state, "to": t.to_state, "event": t.event, "actor": t.actor,
                 "at": iso(t.at)} for t in transitions]
            answers: list[SurveyView] = [
                {"score": s.score, "comment": s.comment, "status": s.status,
                 "agent_id": s.agent_id, "at": iso(s.answered_at)} for s in surveys]
            return {
                **self.status(db, conversation_id),
                "user_id": conv.user_id, "channel": conv.channel,
                "handoff": self._handoff_view(handoff) if handoff else None,
                "profile": self.profiles.get(conv.user_id).public(),
                "messages": messages, "transitions": history, "surveys": answers,
            }

    @staticmethod
    def _handoff_view(h: Handoff) -> HandoffView:
        return {"id": h.id, "reason": h.reason, "group": h.group,
                "group_label": hq.GROUP_LABELS.get(h.group, h.group), "priority": h.priority,
                "tier": h.tier, "tier_label": TIER_LABELS.get(h.tier, h.tier),
                "requested_at": iso(h.requested_at), "assigned_at": iso(h.assigned_at),
                "agent_id": h.agent_id, "ended_at": iso(h.ended_at), "end_reason": h.end_reason}

    def latest_user_text(self, conversation_id: str) -> tuple[str, str]:
        """(masked text of the cardholder's latest message, channel)."""
        with self._sessions() as db:
            conv = self._require_conversation(db, conversation_id)
            row = db.scalars(select(Message).where(Message.conversation_id == conversation_id,
                                                   Message.sender == Sender.USER.value)
                             .order_by(Message.id.desc())).first()
            return (row.text if row else ""), conv.channel

    def queue(self, agent: StaffUser) -> list[QueueItemView]:
        """Waiting conversations the agent may take, in serving order."""
        now = self.clock()
        with self._sessions() as db:
            queued = self._queued(db)
            staff = self._desk_staff(db)
            names = {u.id: u.username for u in staff}
            mine = [h for h in hq.ordered(queued)
                    if h.preferred_agent_id == agent.id and offer_active(h, now)]
            visible = mine + [h for h in hq.ordered(queued) if h not in mine and (
                agent.role in DESK_LEADS or h.group in (agent.groups or []))]
            items: list[QueueItemView] = []
            for h in visible:
                info = hq.queue_info(h, queued, staff, self.settings.handoff_avg_handle_seconds)
                offered = offer_active(h, now)
                items.append({
                    "preferred_agent": (names.get(h.preferred_agent_id)
                                        if h.preferred_agent_id is not None else None),
                    "offered_until": iso(h.offered_until) if offered else None,
                    "conversation_id": h.conversation_id, "user_id": h.user_id,
                    "channel": h.channel, "tier": h.tier,
                    "tier_label": TIER_LABELS.get(h.tier, h.tier), "group": h.group,
                    "group_label": hq.GROUP_LABELS.get(h.group, h.group), "reason": h.reason,
                    "priority": h.priority, "position": info.position,
                    "waiting_seconds": int((now - aware(h.requested_at)).total_seconds()),
                    "last_message": h.last_user_text,
                    "last_message_at": iso(h.last_user_at), "requested_at": iso(h.requested_at),
                })
            return items

    def mine(self, agent: StaffUser) -> list[HeldItemView]:
        """Conversations the agent holds right now."""
        with self._sessions() as db:
            rows = db.execute(
                select(Handoff, Conversation.state)
                .join(Conversation, Conversation.id == Handoff.conversation_id)
                .where(Handoff.agent_id == agent.id, Handoff.ended_at.is_(None),
                       Conversation.state == State.ASSIGNED.value)
                .order_by(Handoff.assigned_at)).all()
            users = [h.user_id for h, _ in rows]
            own = {r.user_id for r in db.scalars(select(Secretary).where(
                Secretary.agent_id == agent.id, Secretary.user_id.in_(users)))}
            return [{"conversation_id": h.conversation_id, "user_id": h.user_id,
                     "preferred_agent": agent.username if h.user_id in own else None,
                     "channel": h.channel, "tier": h.tier,
                     "tier_label": TIER_LABELS.get(h.tier, h.tier), "group": h.group,
                     "reason": h.reason, "priority": h.priority, "state": state,
                     "last_message": h.last_user_text, "last_message_at": iso(h.last_user_at),
                     "assigned_at": iso(h.assigned_at)} for h, state in rows]

    def tickets(self, status: str = "open") -> list[TicketView]:
        """Left messages, priority first, oldest first."""
        with self._sessions() as db:
            rows = db.scalars(select(Ticket).where(Ticket.status == status)
                              .order_by(Ticket.priority.desc(), Ticket.submitted_at,
                                        Ticket.id)).all()
            return [self._ticket_view(t) for t in rows]

    def _ticket_view(self, t: Ticket) -> TicketView:
        return {"id": t.id, "number": f"T{t.id:06d}", "conversation_id": t.conversation_id,
                "user_id": t.user_id, "channel": t.channel, "cause": t.cause,
                "reason": t.reason, "group": t.group, "tier": t.tier,
                "tier_label": TIER_LABELS.get(t.tier, t.tier), "priority": t.priority,
                "status": t.status, "message": t.message,
                "callback_number": self.vault.open(t.callback_number),
                "created_at": iso(t.created_at),
                "submitted_at": iso(t.submitted_at), "closed_at": iso(t.closed_at),
                "note": t.note}
