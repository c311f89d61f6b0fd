"""Constants and helpers of the knowledge-base tests (a module, not conftest: conftest names
clash across test folders when imported directly)."""

from __future__ import annotations

from pathlib import Path

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


