"""Encryption at rest for the few personal values the service must keep readable.

A ticket's callback number is dialled by an agent, so it cannot be masked like transcript
lines; it is sealed with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key
derived from `PII_ENCRYPTION_KEY`, and opened only when a staff view is built. Values written
before sealing existed (no `v1:` prefix) are read as they are, so an upgrade needs no rewrite.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "v1:"


class PiiVault:
    """Seal and open short personal values (phone numbers) with the deployment's key."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("PII_ENCRYPTION_KEY is empty")
        # any passphrase works: Fernet needs 32 url-safe base64 bytes, so derive them
        key = base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())
        self._fernet = Fernet(key)

    def seal(self, value: str) -> str:
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, stored: str | None) -> str | None:
        """The clear value; None for a value sealed with another key (never a crash)."""
        if stored is None or not stored.startswith(PREFIX):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX):].encode()).decode()
        except InvalidToken:
            return None
