"""`python -m api`: serve the gateway with uvicorn on HOST:PORT (127.0.0.1:8000 by default).

`python -m api migrate` brings the service database (DATABASE_URL) and the card-account store
(CARD_DB_URL) to the newest schema; it is idempotent and runs before every start
(`make run`, `make test`, the e2e stack).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn

import migrations
from api.core.config import get_settings


def migrate() -> None:
    """Upgrade both databases to the newest revision."""
    settings = get_settings()
    migrations.upgrade("service", settings.database_url)
    migrations.upgrade("cards", settings.card_db_url)


def serve() -> None:
    """Run uvicorn with the app factory. Under `make run`'s supervisor (API_SERVING_LOCK set)
    the process warms up first and serves only once it holds the serving lock: the other API
    process is a warm standby (api/supervision.py, `warm_then_wait`)."""
    settings = get_settings()
    lock = os.environ.get("API_SERVING_LOCK")
    if lock:
        import api.main  # noqa: F401 - the app's imports (FastAPI, SQLAlchemy, routes) first
        from api import supervision

        supervision.warm_then_wait(Path(lock), settings.port)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our logging config (with PII masking) stays in charge
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 (or FORWARDED_ALLOW_IPS): any
        # local caller could pick its address. The app reads it from TRUSTED_PROXIES only
        # (api/core/web_security.py).
        proxy_headers=False,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m api")
    parser.add_argument("command", nargs="?", choices=("serve", "migrate", "supervise"),
                        default="serve")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        migrate()
    elif args.command == "supervise":
        from api import supervision

        supervision.run()
    else:
        serve()


if __name__ == "__main__":
    main()
