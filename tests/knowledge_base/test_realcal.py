"""Real-language calibration (knowledge_base/search/realcal.py, retrieval.cap_real): fitting,
the committed file, the out-of-scope caps on a build, the combined model fitted on team data
and real dev queries together (retrieval.fit_combined), and the decision."""

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
    TARGET_REAL_ANSWER_PRECISION,
    Calibration,
    Combined,
    Logistic,
    RealDevSet,
    RealLanguage,
    cap_real,
    fit_combined,
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


def test_decision_without_combined_model_answers_when_either_model_is_sure() -> None:
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
    # the dev queries ship as numbers (features, outcomes, group ids) for the combined model
    dev = real.dev_set
    assert dev is not None and len(dev.x) == doc["report"]["in_scope_queries"]
    assert dev.x.shape[1] == len(FEATURES) and set(np.unique(dev.correct1)) <= {False, True}
    assert all(isinstance(v, int | float) for row in doc["dev_set"]["x"] for v in row)
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


def team_and_real(seed: int = 3) -> tuple[tuple[np.ndarray, ...], RealDevSet, np.ndarray]:
    """Team-written queries (easier: right at lower scores) and real ones (harder: the same
    score is right less often), as the two sources differ."""
    x_team, c1_team, c3_team, x_oos = synthetic(seed)
    x_real, c1_real, c3_real, _ = synthetic(seed + 100)
    x_real = x_real.copy()
    x_real[:, 0] -= 0.05  # real language scores lower for the same outcome
    gold = np.arange(len(x_team)) // 4
    real = RealDevSet(x_real, c1_real, c3_real, np.arange(len(x_real)) // 2)
    return (x_team, c1_team, c3_team, gold), real, x_oos


def test_combined_model_thresholds_come_from_the_data() -> None:
    (x_team, c1, c3, gold), real, x_oos = team_and_real()
    combined = fit_combined(x_team, c1, c3, gold, real, x_oos)
    oof = combined.report["out_of_fold"]
    # out of fold on the real dev queries the answer threshold reaches the target precision,
    # and the out-of-scope examples stay within the cap
    assert oof["real"]["precision"] >= TARGET_REAL_ANSWER_PRECISION
    assert oof["out_of_scope_answered"] <= MAX_OOS_ANSWERED + 1e-9
    assert 0.0 < oof["real"]["answer_rate"] < 1.0
    assert combined.report["thresholds_from"]["real_precision"] is not None
    # a stricter target gives a higher threshold and answers fewer: not a constant
    strict = fit_combined(x_team, c1, c3, gold, real, x_oos, real_target=0.97)
    assert strict.t_answer > combined.t_answer
    assert strict.report["out_of_fold"]["real"]["answer_rate"] < oof["real"]["answer_rate"]
    # harder real data (scores lower still for the same outcomes) moves the threshold
    harder = RealDevSet(real.x - np.r_[0.08, 0, 0.08, 0, 0.08], real.correct1, real.correct3,
                        real.groups)
    assert fit_combined(x_team, c1, c3, gold, harder, x_oos).t_answer != combined.t_answer
    # a team set that is right everywhere bounds nothing: the real data sets the threshold
    easy = fit_combined(x_team, np.ones_like(c1), np.ones_like(c3), gold, real, x_oos)
    assert easy.report["thresholds_from"]["team_precision"] == 0.0
    assert easy.t_answer >= easy.report["thresholds_from"]["real_precision"]
    assert easy.report["out_of_fold"]["real"]["precision"] >= TARGET_REAL_ANSWER_PRECISION
    with pytest.raises(ValueError):
        fit_combined(x_team[:0], c1[:0], c3[:0], gold[:0], real, x_oos)


def test_combined_model_decides_alone_when_present() -> None:
    zero = Logistic([0.0] * 5, [1.0] * 5, [0.0] * 5, 0.0)  # p = 0.5 everywhere
    sure = RealLanguage(zero, zero, 0.1, 0.1)  # the OR would answer
    cal = Calibration(zero, zero, 0.1, 0.1, {}, sure, Combined(zero, zero, 0.9, 0.4))
    p = cal.probabilities(np.zeros(5))
    assert p["combined_answer"] == pytest.approx(0.5)
    assert cal.decide(np.zeros(5))[0] == "clarify"  # combined: below answer, above clarify
    cal.combined = Combined(zero, zero, 0.9, 0.9)
    assert cal.decide(np.zeros(5))[0] == "fallback"
    cal.combined = Combined(zero, zero, 0.5, 0.9)
    assert cal.decide(np.zeros(5))[0] == "answer"
    assert cal.thresholds()["combined_answer"] == 0.5
    back = Calibration.from_json(json.loads(json.dumps(cal.to_json())))
    assert back.combined is not None and back.combined.t_answer == 0.5
    assert back.decide(np.zeros(5))[0] == "answer"


def test_calibrate_fits_the_combined_model_only_with_a_real_dev_set() -> None:
    """Through ``calibrate`` on a tiny synthetic KB: with real dev features a combined model
    decides and its out-of-fold report covers both sources; without, the two models' OR."""
    from knowledge_base.search.retrieval import EntryScorer, calibrate

    rng = np.random.default_rng(5)
    n_entries, per = 12, 5
    centres = rng.normal(size=(n_entries, 16))
    qv = np.vstack([c + 0.6 * rng.normal(size=(per, 16)) for c in centres])
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    rows = np.repeat(np.arange(n_entries), per)
    pv = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    scorer = EntryScorer(qv.astype(np.float32), rows, pv.astype(np.float32))
    questions = [f"问题{e}第{i}种问法" for e in range(n_entries) for i in range(per)]
    loo = np.array([r for r in range(len(rows)) if r % per], np.int64)
    oos = rng.normal(size=(20, 16))
    oos /= np.linalg.norm(oos, axis=1, keepdims=True)
    x_in, c1, c3, x_oos = synthetic(4)
    real, _ = fit_real_language(x_in, c1, c3, x_oos, groups=np.arange(len(x_in)) // 2)
    args = ([questions[r] for r in loo], qv[loo].astype(np.float32), rows[loo], loo,
            [f"闲聊{i}" for i in range(20)], oos.astype(np.float32), scorer, questions)
    with_dev = calibrate(*args, real=real)
    assert with_dev.combined is not None and with_dev.report["decision"] == "combined"
    assert set(with_dev.report["combined"]["out_of_fold"]) >= {"team", "real"}
    without = calibrate(*args, real=RealLanguage(real.answer_model, real.scope_model,
                                                 real.t_answer, real.t_clarify))
    assert without.combined is None and without.report["decision"] == "either model"
