"""Real-language calibration (knowledge_base/search/realcal.py, retrieval.cap_real): fitting,
the committed file, the out-of-scope caps on a build, and the decision that uses both models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.search.realcal import (
    CALIBRATION_FILE,
    calibration_document,
    fit_real_language,
    load_real_language,
)
from knowledge_base.search.retrieval import (
    FEATURES,
    MAX_OOS_ANSWERED,
    Calibration,
    Logistic,
    RealLanguage,
    cap_real,
)


def synthetic(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """In-scope queries whose top-1 is right more often at higher s1 / margin, and
    out-of-scope ones with low scores."""
    rng = np.random.default_rng(seed)
    n = 400
    s1 = rng.uniform(0.4, 0.9, n)
    margin = rng.uniform(0.0, 0.15, n)
    right = rng.random(n) < 1 / (1 + np.exp(-(12 * (s1 - 0.6) + 30 * (margin - 0.04))))
    x_in = np.c_[s1, margin, s1 + 0.05, rng.uniform(0, 1, n), s1 - 0.1]
    oos = rng.uniform(0.3, 0.55, 100)
    x_oos = np.c_[oos, rng.uniform(0, 0.03, 100), oos + 0.05, rng.uniform(0, 0.3, 100),
                  oos - 0.15]
    in3 = right | (rng.random(n) < 0.7)
    return x_in, right, in3, x_oos


def test_fit_reaches_the_target_precision_out_of_fold() -> None:
    x_in, c1, c3, x_oos = synthetic()
    real, report = fit_real_language(x_in, c1, c3, x_oos, target=0.9)
    assert report["out_of_fold"]["0.90"]["precision"] >= 0.9
    assert report["out_of_fold"]["0.95"]["answer_rate"] <= report["out_of_fold"]["0.90"][
        "answer_rate"]
    p_answer, _ = real.predict(x_in)
    answered = p_answer >= real.t_answer
    assert answered.mean() > 0.2 and c1[answered].mean() >= 0.85  # in-sample, same threshold
    assert (real.predict(x_oos)[0] >= real.t_answer).mean() <= 0.05


def test_cap_raises_thresholds_until_out_of_scope_stays_out() -> None:
    x_in, c1, c3, x_oos = synthetic(1)
    real, _ = fit_real_language(x_in, c1, c3, x_oos)
    loose = RealLanguage(real.answer_model, real.scope_model, 0.0, 0.0)
    none = np.zeros(len(x_oos), bool)
    capped = cap_real(loose, x_oos, none, none)
    p_answer, p_scope = capped.predict(x_oos)
    assert (p_answer >= capped.t_answer).mean() <= MAX_OOS_ANSWERED
    assert (p_scope >= capped.t_clarify).mean() <= 0.10 + 1e-9
    # never lowered
    strict = RealLanguage(real.answer_model, real.scope_model, 0.99, 0.99)
    assert cap_real(strict, x_oos, none, none).t_answer == 0.99


def test_decision_answers_when_either_model_is_sure() -> None:
    zero = Logistic([0.0] * 5, [1.0] * 5, [0.0] * 5, 0.0)  # p = 0.5 everywhere
    real = RealLanguage(zero, zero, 0.4, 0.3)
    cal = Calibration(zero, zero, 0.9, 0.9, {}, real)
    assert cal.decide(np.zeros(5))[0] == "answer"  # the real-language model is sure enough
    cal.real = RealLanguage(zero, zero, 0.9, 0.3)
    assert cal.decide(np.zeros(5))[0] == "clarify"
    cal.real = None
    assert cal.decide(np.zeros(5))[0] == "fallback"
    # round trip through the index's calibration.json
    cal.real = real
    back = Calibration.from_json(json.loads(json.dumps(cal.to_json())))
    assert back.real is not None and back.real.t_answer == 0.4


def test_committed_file_loads_and_holds_numbers_only() -> None:
    real = load_real_language()
    assert real is not None, "knowledge_base/search/calibration.json must ship"
    assert 0.0 < real.t_answer <= 1.0 and 0.0 < real.t_clarify <= 1.0
    assert len(real.fingerprint) == 12
    doc = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    assert doc["features"] == list(FEATURES)
    assert doc["provenance"]["data"] and doc["report"]["in_scope_queries"] > 100
    data = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ccb_bank_faq"
    if (data / "paraphrase_groups_bank.jsonl").is_file():
        text = CALIBRATION_FILE.read_text(encoding="utf-8")
        for line in (data / "paraphrase_groups_bank.jsonl").read_text(
                encoding="utf-8").splitlines()[:300]:
            for question in json.loads(line)["questions"]:
                assert len(question) < 6 or question not in text


def test_missing_or_foreign_file_means_team_data_only(tmp_path: Path) -> None:
    assert load_real_language(tmp_path / "absent.json") is None
    x_in, c1, c3, x_oos = synthetic()
    real, report = fit_real_language(x_in, c1, c3, x_oos)
    doc = calibration_document(real, report, {"by": "test"})
    doc["features"] = ["s1"]
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert load_real_language(path) is None
    doc["features"] = list(FEATURES)
    path.write_text(json.dumps(doc), encoding="utf-8")
    loaded = load_real_language(path)
    assert loaded is not None and loaded.t_answer == pytest.approx(real.t_answer)


def test_group_folds_keep_a_groups_paraphrases_together() -> None:
    x_in, c1, c3, x_oos = synthetic(2)
    groups = np.arange(len(x_in)) // 2  # pairs of paraphrases
    _, report = fit_real_language(x_in, c1, c3, x_oos, groups=groups)
    assert report["folds"] == "by group"
    assert report["out_of_fold"]["0.90"]["precision"] >= 0.9
    from knowledge_base.search.retrieval import _oof_predict

    y = c1.astype(float)
    w = np.ones(len(x_in))
    a = _oof_predict(x_in, y, w, groups=groups)
    b = _oof_predict(x_in, y, w)
    assert a.shape == b.shape and not np.allclose(a, b)
