"""The knowledge layer's own configuration: where its database, model, index and seed are.

The service runtime builds it from its settings (`api.core.config.Settings.kb_config()`, which
copies the fields of the same name); scripts and tests may build it directly.
"""

from __future__ import annotations

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

    @classmethod
    def from_object(cls, source: Any) -> KBConfig:
        """The fields of this config, read by name from any settings object."""
        return cls(**{f.name: getattr(source, f.name) for f in fields(cls)})
