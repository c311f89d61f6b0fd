"""Start the Rasa server on loopback with the token-protected HTTP API and the SQL tracker store
(production mode: PostgreSQL tracker + Redis lock store, `bot/endpoints.production.yml`).

The secret never appears on a command line (`ps` shows every process's arguments): Rasa's CLI
runs inside this process with its arguments set here, and `RASA_TOKEN` is Rasa's JWT secret, so
its HTTP API is called with `Authorization: Bearer <JWT>` (api/conversation/rasa_client.py)
instead of `?token=` in the URL.
"""

from __future__ import annotations

import os
import sys

from bot import paths
from bot.train import model_path


def rasa_args(model: str, token: str) -> list[str]:
    """`rasa run` arguments (the token only goes to the in-process argv, never to exec)."""
    production = os.environ.get("APP_ENV") == "production"
    return [
        "rasa", "run",
        "--enable-api",
        "--jwt-secret", token,
        "--jwt-method", "HS256",
        # loopback by default; a container listens on its own network (RASA_INTERFACE=0.0.0.0)
        "--interface", os.environ.get("RASA_INTERFACE", "127.0.0.1"),
        "--port", os.environ.get("RASA_PORT", "5005"),
        "--model", model,
        "--endpoints", str(paths.ENDPOINTS_PRODUCTION if production else paths.ENDPOINTS),
        "--credentials", str(paths.CREDENTIALS),
    ]


def main() -> None:
    """Run `rasa run` in this process with settings from the environment."""
    model = model_path()
    if not model.exists():
        raise SystemExit("No trained model for the current data: run `make train` first.")
    token = os.environ.get("RASA_TOKEN", "")
    if not token:
        raise SystemExit("RASA_TOKEN is not set: Rasa's HTTP API must be protected.")
    os.makedirs(os.environ.get("DATA_DIR", "var"), exist_ok=True)
    from rasa.__main__ import main as rasa_main

    from bot import remote_validation

    remote_validation.install()  # ~22 ms less CPU per custom-action call (see the module)
    sys.argv = rasa_args(str(model), token)
    rasa_main()


if __name__ == "__main__":
    main()
