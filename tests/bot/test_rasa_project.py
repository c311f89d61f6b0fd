"""`rasa data validate`, Rasa story tests and NLU accuracy on a held-out split."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bot import paths

HOLDOUT = Path(__file__).parent / "data" / "nlu_holdout.yml"


def rasa(*args: str, cwd: Path = paths.ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rasa", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=900)


def test_rasa_data_validate() -> None:
    data = [str(p) for p in paths.TRAINING_DATA]
    result = rasa("data", "validate", "--domain", str(paths.DOMAIN), "--config",
                  str(paths.CONFIG), "--data", *data, "--fail-on-warnings")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_story_tests_pass(trained_model, tmp_path) -> None:
    result = rasa("test", "core", "--model", str(trained_model), "--stories",
                  str(paths.STORY_TESTS), "--out", str(tmp_path), "--fail-on-prediction-errors",
                  "--endpoints", str(paths.ENDPOINTS))
    failed = tmp_path / "failed_test_stories.yml"
    detail = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, detail[-4000:] + result.stdout[-3000:] + result.stderr[-3000:]


def test_intent_accuracy_on_holdout(agent) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    holdout = load_data(str(HOLDOUT))
    assert len(holdout.intent_examples) >= 150
    errors: Counter[str] = Counter()
    correct = 0
    for example in holdout.intent_examples:
        parsed = asyncio.run(agent.parse_message(example.get("text")))
        predicted = parsed["intent"]["name"]
        if predicted == example.get("intent"):
            correct += 1
        else:
            errors[f"{example.get('intent')}->{predicted}"] += 1
    accuracy = correct / len(holdout.intent_examples)
    print(f"held-out intent accuracy {accuracy:.3f}; confusions {errors.most_common(10)}")
    assert accuracy >= 0.80, errors.most_common(15)


@pytest.mark.parametrize("text,entity,value", [
    ("帮我把账单日改到15号", "day", "15号"),
    ("分12期", "period", "12期"),
])
def test_regex_entities_in_trained_model(agent, text, entity, value) -> None:
    parsed = asyncio.run(agent.parse_message(text))
    found = {(e["entity"], e["value"]) for e in parsed["entities"]}
    assert any(e == entity and value in str(v) for e, v in found), parsed["entities"]
