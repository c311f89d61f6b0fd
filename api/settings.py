"""Settings of the service runtime (API + retrieval), read from the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development defaults are the values documented in .env.example. In production none of these
# may stay: a default secret would let anyone call Rasa or the internal APIs.
DEV_SECRETS = {
    "rasa_token": "dev-rasa-token-change-me",
    "internal_api_token": "dev-internal-token-change-me",
}


class Settings(BaseSettings):
    """Service-runtime configuration."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    app_env: Literal["development", "production", "test"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("var")
    database_url: str = "sqlite:///var/app.db"
    log_level: str = "INFO"

    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = DEV_SECRETS["rasa_token"]
    rasa_timeout: float = 20.0
    actions_url: str = "http://127.0.0.1:5055/webhook"

    internal_api_token: str = DEV_SECRETS["internal_api_token"]
    embedding_model_dir: Path = Path("var/models/e5-small")
    index_dir: Path = Path("var/index")
    kb_seed_dir: Path = Path("knowledge_base/seed")

    max_message_chars: int = 2000

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        if self.app_env == "production":
            weak = [name for name, dev in DEV_SECRETS.items() if getattr(self, name) in ("", dev)]
            if weak:
                raise ValueError(f"production mode needs real secrets for: {', '.join(weak)}")
        return self


@lru_cache
def get_settings() -> Settings:
    """Settings built once, on first use."""
    return Settings()
