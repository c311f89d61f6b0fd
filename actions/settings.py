"""Settings of the Rasa runtime (action server), read from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import BaseSettings


class Settings(BaseSettings):
    """Action-server configuration; defaults are the development values of .env.example."""

    app_env: str = "development"
    kb_search_url: str = "http://127.0.0.1:8000/internal/v1/kb/search"
    internal_api_token: str = "dev-internal-token-change-me"
    kb_timeout: float = 5.0
    card_db_url: str = "sqlite:///var/cards.db"
    # Identity-check sessions (issue 16): a passed check expires after this long without a
    # message; account changes (挂失, 冻结, 账单日修改, 额度) need one younger than the window.
    identity_idle_seconds: float = 600.0
    identity_change_window_seconds: float = 300.0

    class Config:
        env_file = None


@lru_cache
def get_settings() -> Settings:
    """Settings built once, on first use."""
    settings = Settings()
    if settings.app_env == "production" and "change-me" in settings.internal_api_token:
        raise RuntimeError("INTERNAL_API_TOKEN must be set in production")
    return settings
