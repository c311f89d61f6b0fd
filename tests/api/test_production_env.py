"""`.env.production.example` is the one switch: it configures every production store, and its
empty secrets keep the service from starting until they are filled in."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from api.core.config import DEV_SECRETS, Settings

ROOT = Path(__file__).resolve().parents[2]


def _values() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".env.production.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip().lower()] = value.strip()
    return out


def test_empty_secrets_refuse_to_start() -> None:
    with pytest.raises(ValidationError, match="production mode needs real secrets"):
        Settings(**_values())  # type: ignore[arg-type]


def test_filled_in_it_selects_postgresql_and_redis() -> None:
    values = _values()
    for name in DEV_SECRETS:
        values[name] = f"prod-{name}-" + "x" * 40
    values["wechat_aes_key"] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    settings = Settings(**values)  # type: ignore[arg-type]
    assert settings.app_env == "production"
    assert settings.database_url.startswith("postgresql+psycopg2://")
    assert settings.card_db_url.startswith("postgresql+psycopg2://")
    assert settings.hub_redis_url.startswith("redis://")
    assert 0 < settings.bot_budget_seconds < settings.wechat_passive_timeout_seconds
    # Rasa's production endpoints get every variable they expand from the same file
    endpoints = (ROOT / "bot" / "endpoints.production.yml").read_text(encoding="utf-8")
    import re

    for var in re.findall(r"\$\{(\w+)\}", endpoints):
        assert var.lower() in values, var
    assert "RATE_LIMIT_STORAGE_URL".lower() in values
    # issue 16: limits shared by every API process (memory:// is per process)
    assert settings.rate_limit_storage_url.startswith("redis://")


def test_production_names_what_stays_per_process() -> None:
    """One replica without Redis is valid, but the log says what several would not share."""
    from api.core.config import Settings

    assert Settings(app_env="development").single_process_parts() == []
    # model_construct: the production secret checks are tested elsewhere
    prod = Settings.model_construct(**{**Settings().model_dump(), "app_env": "production",
                                       "rate_limit_storage_url": "memory://",
                                       "hub_redis_url": ""})
    parts = prod.single_process_parts()
    assert len(parts) == 2 and "RATE_LIMIT_STORAGE_URL" in parts[0] and "HUB_REDIS_URL" in parts[1]
    shared = prod.model_copy(update={"rate_limit_storage_url": "redis://127.0.0.1:6379/0",
                                     "hub_redis_url": "redis://127.0.0.1:6379/0"})
    assert shared.single_process_parts() == []
