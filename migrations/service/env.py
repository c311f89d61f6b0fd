"""Alembic environment of the service database (DATABASE_URL)."""

from __future__ import annotations

import api.models  # every table of the service database, listed explicitly
from migrations import run_env

run_env(api.models.Base.metadata, "sqlite:///var/app.db")
