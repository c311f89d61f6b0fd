"""The product's shared words, imported by both runtimes (standard library only).

One place for the values that cross a boundary: what a turn ended with (the actions' `meta`
block, the gateway, the chat contract), the conversation states of the handoff, staff roles,
skill groups, transcript senders and message types. Chinese labels and texts stay with the
code that shows them.

Python 3.10 (Rasa runtime) has no `enum.StrEnum`; `StrEnum` below behaves like it (the member
is its value in `str()`, f-strings, JSON and comparisons).
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class StrEnum(str, Enum):
    """A string enum whose members print, format and serialise as their value."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Outcome(StrEnum):
    """How one user turn ended (`outcome` of `POST /api/v1/chat`)."""

    ANSWERED = "answered"
    CLARIFY = "clarify"  # the bot asks "您是不是想问"
    FALLBACK = "fallback"  # not understood, or out of scope
    HANDOFF = "handoff"  # queued for a human
    FORM = "form"  # a self-service flow is collecting information
    AGENT = "agent"  # the message went to the human agent
    UNAVAILABLE = "unavailable"  # the bot could not be reached; the user got an apology
    TICKET = "ticket"  # leaving a message + callback number
    SURVEY = "survey"  # the satisfaction survey after an agent resolved
    CANCELLED = "cancelled"  # the cardholder stopped waiting in the queue


class State(StrEnum):
    """Where a conversation is in the handoff state machine (`api/handoff/state.py`)."""

    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    TICKET = "ticket"


class Sender(StrEnum):
    """Who wrote a transcript line."""

    USER = "user"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class MessageType(StrEnum):
    """The message kinds of the chat contract."""

    TEXT = "text"
    BUTTONS = "buttons"
    IMAGE = "image"
    LINK = "link"


class Role(StrEnum):
    """Staff roles of the consoles."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    OPS = "ops"
    ADMIN = "admin"


class SkillGroup(StrEnum):
    """Skill groups of the human desk."""

    GENERAL = "general"
    VIP = "vip"
    DISPUTES = "disputes"


ROLES: tuple[Role, ...] = tuple(Role)
# Roles that work the handoff queue; of them, the ones that may act on any group / conversation.
DESK_ROLES: tuple[Role, ...] = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
DESK_LEADS: tuple[Role, ...] = (Role.SUPERVISOR, Role.ADMIN)
# Who may edit KB drafts (and use every read-only console view), and who may publish.
KB_EDIT_ROLES: tuple[Role, ...] = (Role.OPS, Role.SUPERVISOR, Role.ADMIN)
KB_PUBLISH_ROLES: tuple[Role, ...] = (Role.SUPERVISOR, Role.ADMIN)
SKILL_GROUPS: tuple[SkillGroup, ...] = tuple(SkillGroup)
# Service insights dashboard (read) and the quality-inspection review (supervisors).
INSIGHTS_ROLES: tuple[Role, ...] = (Role.OPS, Role.SUPERVISOR, Role.ADMIN)
QUALITY_REVIEW_ROLES: tuple[Role, ...] = (Role.SUPERVISOR, Role.ADMIN)


class ErrorKind(StrEnum):
    """What went wrong, in domain terms; `api/core/errors.py` maps each kind to an HTTP status."""

    INVALID = "invalid"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    FORBIDDEN = "forbidden"
    UNAVAILABLE = "unavailable"
    BUSY = "busy"  # overloaded: retry after `retry_after` seconds (HTTP 429 + Retry-After)


class DomainError(Exception):
    """A refused operation of a domain service, with a Chinese and an English message.

    Services (handoff, KB editing) raise it; they never know about HTTP. `extra` is added to
    the error body (e.g. the current revision on an edit conflict).
    """

    def __init__(self, kind: ErrorKind, code: str, message: str, message_en: str,
                 **extra: Any) -> None:
        super().__init__(message_en)
        self.kind = kind
        self.code = code
        self.message = message
        self.message_en = message_en
        self.extra = extra
