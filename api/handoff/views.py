"""Typed read models of the handoff: what the widget, the consoles and the hub events carry.

They are the JSON shapes of the API (`api/schemas/handoff.py` validates them on the way out),
built from the tables by `api/handoff/read_models.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, cast

# pydantic validates these views on the way out and needs typing_extensions.TypedDict (< 3.12).
from typing_extensions import NotRequired, TypedDict

from api.handoff.queue import QueueView
from api.models import Message, StaffUser


class AgentView(TypedDict):
    id: int
    name: str
    agent_no: str


class MessageView(TypedDict):
    """A transcript line; the row's payload keys (buttons, agent, event, kb) sit beside these."""

    id: int
    sender: str
    type: str
    text: str
    created_at: str | None


class StatusView(TypedDict):
    conversation_id: str
    state: str
    queue: NotRequired[QueueView]
    agent: NotRequired[AgentView]


class MessagesView(StatusView):
    messages: list[MessageView]
    next_cursor: int


class DeskResultView(StatusView):
    """What an agent command returns: the new status and the system message it wrote."""

    message: MessageView


class HandoffView(TypedDict):
    id: int
    reason: str
    group: str
    group_label: str
    priority: bool
    tier: str
    tier_label: str
    requested_at: str | None
    assigned_at: str | None
    agent_id: int | None
    ended_at: str | None
    end_reason: str | None


# "from" is a keyword, hence the functional form.
TransitionView = TypedDict("TransitionView", {"from": str, "to": str, "event": str,
                                              "actor": str, "at": str | None})


class SurveyView(TypedDict):
    score: int | None
    comment: str | None
    status: str
    agent_id: int | None
    at: str | None


class TranscriptView(StatusView):
    user_id: str
    channel: str
    handoff: HandoffView | None
    profile: dict[str, Any]
    messages: list[MessageView]
    transitions: list[TransitionView]
    surveys: list[SurveyView]


class DeskItemView(TypedDict):
    """A conversation in one of the agent's lists."""

    conversation_id: str
    user_id: str
    channel: str
    tier: str
    tier_label: str
    group: str
    reason: str
    priority: bool
    last_message: str
    last_message_at: str | None
    preferred_agent: str | None  # username of the cardholder's own agent (安心秘书)


class QueueItemView(DeskItemView):
    offered_until: str | None  # the secretary offer runs until then (None: open to the group)
    group_label: str
    position: int
    waiting_seconds: int
    requested_at: str | None


class HeldItemView(DeskItemView):
    state: str
    assigned_at: str | None


class TicketView(TypedDict):
    id: int
    number: str
    conversation_id: str
    user_id: str
    channel: str
    cause: str
    reason: str
    group: str
    tier: str
    tier_label: str
    priority: bool
    status: str
    message: str
    callback_number: str | None
    created_at: str | None
    submitted_at: str | None
    closed_at: str | None
    note: str


@dataclass
class HandoffReply:
    """What the gateway returns to the cardholder for a turn handled by the handoff flow."""

    outcome: str
    messages: list[MessageView] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).isoformat()


def message_view(row: Message) -> MessageView:
    """A transcript line as the widget and the console render it."""
    base: MessageView = {"id": row.id, "sender": row.sender, "type": row.type, "text": row.text,
                         "created_at": iso(row.created_at)}
    return cast(MessageView, {**(row.payload or {}), **base})


def agent_view(user: StaffUser) -> AgentView:
    return {"id": user.id, "name": user.display_name, "agent_no": user.agent_no or str(user.id)}
