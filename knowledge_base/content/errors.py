"""Refused edits of the KB content (mapped to HTTP by the API's one error mapping)."""

from __future__ import annotations

from vocab import DomainError, ErrorKind


class EditError(DomainError):
    """A refused edit: its kind, machine code, Chinese and English message, extra detail."""


__all__ = ["EditError", "ErrorKind"]
