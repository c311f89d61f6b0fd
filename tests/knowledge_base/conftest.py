"""Shared fixtures of the knowledge-base tests: the real converted e5 model and a small KB."""

from __future__ import annotations

from pathlib import Path

import pytest
from kb_testing import FIXTURE_NLU, MODEL_DIR, make_settings


@pytest.fixture(scope="session")
def e5_model_dir() -> Path:
    """The model `make model` builds; retrieval-quality tests need the real one, not a mock."""
    if not (MODEL_DIR / "modules.json").is_file():
        pytest.fail(f"{MODEL_DIR} is missing: run `make model` before the tests")
    return MODEL_DIR


@pytest.fixture(scope="session")
def kb_service(e5_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A loaded KnowledgeService over the fixture KB, with the real e5 model."""
    from knowledge_base.search.service import KnowledgeService

    service = KnowledgeService(make_settings(tmp_path_factory.mktemp("kb")), nlu_dir=FIXTURE_NLU)
    service.reload()
    yield service
    service.close()
