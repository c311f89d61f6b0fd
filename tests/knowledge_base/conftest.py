"""Shared fixtures of the knowledge-base tests: the real converted e5 model and a small KB."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / "var" / "models" / "e5-small"


@pytest.fixture(scope="session")
def e5_model_dir() -> Path:
    """The model `make model` builds; retrieval-quality tests need the real one, not a mock."""
    if not (MODEL_DIR / "modules.json").is_file():
        pytest.fail(f"{MODEL_DIR} is missing: run `make model` before the tests")
    return MODEL_DIR


FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_SEED = FIXTURES / "seed"
FIXTURE_NLU = FIXTURES / "nlu"


def make_settings(tmp: Path, seed_dir: Path = FIXTURE_SEED):
    """Service settings for a throwaway KB (own DB and index directory)."""
    from api.settings import Settings

    return Settings(app_env="test", database_url=f"sqlite:///{tmp}/kb.db", index_dir=tmp / "index",
                    kb_seed_dir=seed_dir, embedding_model_dir=MODEL_DIR, data_dir=tmp)


@pytest.fixture(scope="session")
def kb_service(e5_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A loaded KnowledgeService over the fixture KB, with the real e5 model."""
    from knowledge_base.service import KnowledgeService

    service = KnowledgeService(make_settings(tmp_path_factory.mktemp("kb")), nlu_dir=FIXTURE_NLU)
    service.reload()
    yield service
    service.close()
