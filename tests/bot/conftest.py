"""Rasa-runtime test helpers: the trained model (built by `make train`, never here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.train import model_path


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """Path of the model for the current data; tests that need it fail if it is stale."""
    path = model_path()
    if not path.exists():
        pytest.fail("No model for the current data: run `make train` (make test does it).")
    return path


@pytest.fixture(scope="session")
def agent(trained_model: Path):
    """The trained model loaded once per session (loading TensorFlow takes a while)."""
    import asyncio

    from rasa.core.agent import load_agent

    return asyncio.run(load_agent(model_path=str(trained_model)))
