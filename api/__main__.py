"""`python -m api`: serve the gateway with uvicorn on HOST:PORT (127.0.0.1:8000 by default)."""

import uvicorn

from api.core.config import get_settings


def main() -> None:
    """Run uvicorn with the app factory."""
    settings = get_settings()
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our logging config (with PII masking) stays in charge
    )


if __name__ == "__main__":
    main()
