"""The card-account store of this action server (CARD_DB_URL of the Rasa runtime's settings)."""

from __future__ import annotations

from actions.settings import get_settings
from cards.client import CardAccountClient, client_for


def get_client() -> CardAccountClient:
    """The process-wide client; the engine is created on first use."""
    return client_for(get_settings().card_db_url)
