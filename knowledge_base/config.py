"""The knowledge layer's own configuration: where its database, model, index and seed are.

The service runtime builds it from its settings (`api.core.config.Settings.kb_config()`, which
copies the fields of the same name); the command line (`python -m knowledge_base`) reads the
same environment variables; scripts and tests may build it directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class KBConfig:
    """Settings the knowledge base reads (names match the service settings / env vars)."""

    database_url: str = "sqlite:///var/app.db"
    embedding_model_dir: Path = Path("var/models/e5-small")
    index_dir: Path = Path("var/index")
    kb_seed_dir: Path = Path("knowledge_base/seed")
    # Query understanding (search/query.py): the deploying bank's names (comma-separated,
    # ``name=replacement`` allowed; empty = the demo bank's) and extra other-issuer names.
    bank_names: str = ""
    other_issuers: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KBConfig:
        """From environment variables of the same names in upper case (the command line)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.name.upper())
            if raw:
                values[f.name] = Path(raw) if isinstance(f.default, Path) else raw
        return cls(**values)

    @classmethod
    def from_object(cls, source: Any) -> KBConfig:
        """The fields of this config, read by name from any settings object."""
        return cls(**{f.name: getattr(source, f.name) for f in fields(cls)})
