"""Logging for the service runtime: every record goes through the PII mask and the secret
redaction (configured secrets, bearer tokens, `token=` / `secret=` query values)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from pii import PiiMaskingFilter

REDACTED = "***"
# Bearer credentials and token-like query/JSON values, whatever secret they carry.
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_QUERY = re.compile(r"(?i)((?:^|[?&\s\"'])(?:token|access_token|auth_token|secret|"
                    r"conversation_token|identity_hash|identity_token|password)[\"']?\s*[=:]\s*"
                    r"[\"']?)[^&\s\"',}]+")
MIN_SECRET_CHARS = 6


class SecretRedactingFilter(logging.Filter):
    """Replace configured secret values and bearer/query tokens by `***`. Never raises."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is redacted whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_CHARS},
                              key=len, reverse=True)

    def redact(self, text: str) -> str:
        """The text with every secret removed."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _BEARER.sub(r"\1" + REDACTED, text)
        return _QUERY.sub(r"\1" + REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            try:
                message = record.getMessage()
            except Exception:  # bad format args: keep everything, redacted
                message = f"{record.msg!s} {record.args!r}"
            record.msg, record.args = self.redact(message), ()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.redact(record.exc_text)
        except Exception:  # a logging filter must never raise
            record.msg, record.args = "[log record suppressed: redaction failed]", ()
        return True


def configure_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Root handler with PII masking and secret redaction; uvicorn's loggers propagate to it."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PiiMaskingFilter())
    handler.addFilter(SecretRedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
