"""English decision models (knowledge_base/search/english_cal.py): applied only to English
queries, never less decisive than the Chinese models, the committed file, and the hook in the
service's decision."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.search.english_cal import (
    ENGLISH_CALIBRATION_FILE,
    EnglishCalibration,
    english_document,
    is_english,
    load_english_calibration,
)
from knowledge_base.search.realcal import fit_real_language
from knowledge_base.search.retrieval import FEATURES, Logistic, RealLanguage

HIGH = np.array([[0.8, 0.2, 0.85, 0.5, 0.9]], np.float32)  # a confident English match
LOW = np.array([[0.3, 0.0, 0.35, 0.1, 0.4]], np.float32)  # nothing near


def toy() -> EnglishCalibration:
    """P rises with s1 (the first feature) only; thresholds at 0.6 / 0.4."""
    model = Logistic(mean=[0.5] * len(FEATURES), scale=[0.1] * len(FEATURES),
                     coef=[3.0] + [0.0] * (len(FEATURES) - 1), intercept=0.0)
    return EnglishCalibration(RealLanguage(model, model, t_answer=0.6, t_clarify=0.4))


def test_language_rule() -> None:
    assert is_english("What is the annual fee?")
    assert not is_english("信用卡年费是多少")
    assert not is_english("我的卡被盗刷了 help")  # mixed: decided as Chinese
    assert not is_english("/faq")


def test_applies_to_english_queries_only() -> None:
    cal = toy()
    assert cal.decide("What is the annual fee?", HIGH, "fallback")[0] == "answer"
    decision, p = cal.decide("年费是多少", HIGH, "fallback")
    assert (decision, p) == ("fallback", {})  # Chinese: the Chinese models' decision stands
    assert cal.decide("年费 annual fee", HIGH, "clarify")[0] == "clarify"  # mixed likewise


def test_english_never_lowers_the_chinese_decision() -> None:
    cal = toy()
    decision, p = cal.decide("hello there my friend", LOW, "answer")
    assert decision == "answer" and p["en_answer"] < 0.6
    assert cal.decide("hello there my friend", LOW, "fallback")[0] == "fallback"
    mid = HIGH.copy()
    mid[0, 0] = 0.5  # p = 0.5: above the clarify, below the answer threshold
    assert cal.decide("how do I raise my limit", mid, "fallback")[0] == "clarify"


def test_committed_file_loads_and_matches_the_scoring() -> None:
    cal = load_english_calibration()
    assert cal is not None, f"{ENGLISH_CALIBRATION_FILE} missing or made for another scoring"
    data = json.loads(ENGLISH_CALIBRATION_FILE.read_text(encoding="utf-8"))
    assert data["target_precision"] == 0.90
    assert 0.0 < cal.models.t_clarify <= 1.01 and 0.0 < cal.models.t_answer <= 1.01
    prov = data["provenance"]
    assert prov["by"] == "python -m bench english_cal"
    assert list(prov["data"]) == ["knowledge_base/eval/english_dev.yml"]
    # Numbers only: no question text of the calibration set ships in the file.
    assert "annual fee" not in ENGLISH_CALIBRATION_FILE.read_text(encoding="utf-8").lower()


def test_a_file_for_another_scoring_is_ignored(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (60, len(FEATURES)))
    right = x[:, 0] > 0.5
    models, report = fit_real_language(x, right, right | (x[:, 1] > 0.5),
                                       rng.uniform(0, 0.4, (20, len(FEATURES))))
    doc = english_document(models, report, {"by": "test"})
    good = tmp_path / "good.json"
    good.write_text(json.dumps(doc), encoding="utf-8")
    loaded = load_english_calibration(good)
    assert loaded is not None and loaded.models.t_answer == pytest.approx(models.t_answer)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**doc, "alpha": 0.25}), encoding="utf-8")
    assert load_english_calibration(bad) is None
    assert load_english_calibration(tmp_path / "missing.json") is None
