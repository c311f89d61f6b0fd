"""Constants and helpers of the knowledge-base tests (a module, not conftest: conftest names
clash across test folders when imported directly)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / "var" / "models" / "e5-small"
FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_SEED = FIXTURES / "seed"
FIXTURE_NLU = FIXTURES / "nlu"


def make_settings(tmp: Path, seed_dir: Path = FIXTURE_SEED):
    """The knowledge layer's config for a throwaway KB (own migrated DB and index directory)."""
    import migrations
    from knowledge_base.config import KBConfig

    url = f"sqlite:///{tmp}/kb.db"
    migrations.upgrade("service", url)
    return KBConfig(database_url=url, index_dir=tmp / "index", kb_seed_dir=seed_dir,
                    embedding_model_dir=MODEL_DIR)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


class TableEncoder:
    """A stand-in encoder: fixed vectors for known texts, hashed unit vectors otherwise."""

    def __init__(self, table: dict[str, np.ndarray], dim: int, model_dir: Path) -> None:
        self.table, self.dim, self.model_dir = table, dim, model_dir
        self.blocks = None

    def _vec(self, text: str) -> np.ndarray:
        if text in self.table:
            return self.table[text]
        seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
        return unit(np.random.default_rng(seed).standard_normal(self.dim))

    def encode(self, texts: Sequence[str], **_: object) -> np.ndarray:
        return np.array([self._vec(t) for t in texts], np.float32).reshape(len(texts), self.dim)

    encode_passages = encode
