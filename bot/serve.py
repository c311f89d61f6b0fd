"""Start the Rasa server on loopback with the token-protected HTTP API and the SQL tracker store
(production mode: PostgreSQL tracker + Redis lock store, `bot/endpoints.production.yml`)."""

from __future__ import annotations

import os
import sys

from bot import paths
from bot.train import model_path


def main() -> None:
    """Exec `rasa run` with settings from the environment."""
    model = model_path()
    if not model.exists():
        raise SystemExit("No trained model for the current data: run `make train` first.")
    token = os.environ.get("RASA_TOKEN", "")
    if not token:
        raise SystemExit("RASA_TOKEN is not set: Rasa's HTTP API must be protected.")
    os.makedirs(os.environ.get("DATA_DIR", "var"), exist_ok=True)
    production = os.environ.get("APP_ENV") == "production"
    endpoints = paths.ENDPOINTS_PRODUCTION if production else paths.ENDPOINTS
    args = [
        sys.executable, "-m", "rasa", "run",
        "--enable-api",
        "--auth-token", token,
        # loopback by default; a container listens on its own network (RASA_INTERFACE=0.0.0.0)
        "--interface", os.environ.get("RASA_INTERFACE", "127.0.0.1"),
        "--port", os.environ.get("RASA_PORT", "5005"),
        "--model", str(model),
        "--endpoints", str(endpoints),
        "--credentials", str(paths.CREDENTIALS),
    ]
    os.execv(sys.executable, args)


if __name__ == "__main__":
    main()
