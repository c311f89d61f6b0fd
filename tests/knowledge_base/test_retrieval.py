"""Entry scoring, leave-one-out, the logistic decision models and threshold calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge_base.search import retrieval
from knowledge_base.search.retrieval import Calibration, EntryScorer, Logistic


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(n_entries: int = 12, per_entry: int = 6, dim: int = 24, noise: float = 0.35,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic KB: each entry's questions scatter around its own centre."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((n_entries, dim)))
    rows = np.repeat(np.arange(n_entries), per_entry)
    qvecs = unit(centres[rows] + noise * rng.standard_normal((len(rows), dim)))
    pvecs = unit(centres + noise * rng.standard_normal((n_entries, dim)))
    return centres, rows, qvecs, pvecs


def test_score_all_matches_score_entries_and_leave_one_out() -> None:
    _, rows, qvecs, pvecs = clustered()
    scorer = EntryScorer(qvecs, rows, pvecs)
    query = qvecs[7]
    score, max_sim, argmax = scorer.score_all(query[None])
    one = {h.entry_index: h for h in scorer.score_entries(query, range(12))}
    for e in range(12):
        assert one[e].score == pytest.approx(score[0, e], abs=1e-5)
        assert one[e].max_sim == pytest.approx(max_sim[0, e], abs=1e-5)
        assert one[e].matched_row == argmax[0, e]
    assert argmax[0, 1] == 7 and max_sim[0, 1] == pytest.approx(1.0, abs=1e-5)

    # Leave-one-out equals scoring against a KB that lacks that row.
    loo_score, loo_max, loo_arg = scorer.score_all(query[None], exclude_rows=np.array([7]))
    keep = np.arange(len(rows)) != 7
    reduced = EntryScorer(qvecs[keep], rows[keep], pvecs)
    ref_score, ref_max, _ = reduced.score_all(query[None])
    np.testing.assert_allclose(loo_score, ref_score, atol=1e-5)
    np.testing.assert_allclose(loo_max, ref_max, atol=1e-5)
    assert loo_arg[0, 1] != 7
    # The exclusion does not leak into the next call.
    assert scorer.score_all(query[None])[1][0, 1] == pytest.approx(1.0, abs=1e-5)


def test_rows_must_be_grouped_by_entry() -> None:
    _, rows, qvecs, pvecs = clustered()
    with pytest.raises(ValueError, match="grouped"):
        EntryScorer(qvecs, rows[::-1].copy(), pvecs)


def test_lexical_overlap() -> None:
    assert retrieval.lexical_overlap("信用卡丢了", "信用卡丢了怎么办") == 1.0
    assert retrieval.lexical_overlap("今天天气", "信用卡丢了") == 0.0
    assert 0 < retrieval.lexical_overlap("卡丢了咋办", "信用卡丢了怎么办") < 1


def test_logistic_learns_a_separable_rule() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((400, 2))
    y = (x[:, 0] - 0.5 * x[:, 1] > 0).astype(float)
    model = Logistic.fit(x, y, np.ones(len(y)))
    p = model.predict(x)
    assert ((p > 0.5) == (y == 1)).mean() > 0.97
    assert model.coef[0] > 0 > model.coef[1]


def const(p: float) -> Logistic:
    """A model that predicts ``p`` for every input."""
    n = len(retrieval.FEATURES)
    return Logistic([0.0] * n, [1.0] * n, [0.0] * n, float(np.log(p / (1 - p))))


@pytest.mark.parametrize(("p_answer", "p_scope", "decision"), [
    (0.95, 0.99, "answer"), (0.91, 0.10, "answer"), (0.60, 0.70, "clarify"),
    (0.60, 0.30, "fallback"), (0.10, 0.50, "clarify"),
])
def test_two_thresholds(p_answer: float, p_scope: float, decision: str) -> None:
    cal = Calibration(const(p_answer), const(p_scope), t_answer=0.9, t_clarify=0.5)
    assert cal.decide(np.zeros(len(retrieval.FEATURES), np.float32))[0] == decision


def test_calibration_json_round_trip_and_version_check() -> None:
    cal = Calibration(const(0.7), const(0.4), 0.8, 0.3, {"hit@1": 0.5})
    data = cal.to_json()
    again = Calibration.from_json(data)
    zeros = np.zeros(len(retrieval.FEATURES))
    assert again.decide(zeros)[0] == cal.decide(zeros)[0] == "clarify"
    with pytest.raises(ValueError, match="rebuild"):
        Calibration.from_json({**data, "alpha": 9.0})
    with pytest.raises(ValueError, match="rebuild"):
        Calibration.from_json({**data, "targets": {"answer_precision": 0.5}})


def test_calibrate_meets_its_targets_on_separable_data() -> None:
    centres, rows, qvecs, pvecs = clustered(n_entries=30, per_entry=7, noise=0.3)
    scorer = EntryScorer(qvecs, rows, pvecs)
    questions = [f"问题{r}" for r in range(len(rows))]
    loo = np.array([r for r in range(len(rows)) if r % 7], np.int64)
    rng = np.random.default_rng(5)
    oos_vecs = unit(rng.standard_normal((60, centres.shape[1])))  # far from every entry
    cal = retrieval.calibrate([questions[r] for r in loo], qvecs[loo], rows[loo], loo,
                              [f"闲聊{i}" for i in range(60)], oos_vecs, scorer, questions)
    rep = cal.report
    assert rep["in_scope_queries"] == len(loo) and rep["out_of_scope_queries"] == 60
    assert rep["in_scope"]["answer_precision"] >= retrieval.TARGET_ANSWER_PRECISION - 0.02
    assert rep["out_of_scope"]["fallback_rate"] >= retrieval.TARGET_OOS_REJECTION - 0.05
    assert rep["out_of_scope"]["answer_rate"] <= 0.02
    # A clean paraphrase is answered, a random vector falls back.
    hits = scorer.score_entries(qvecs[1], range(30))
    assert cal.decide(retrieval.features("问题1", hits[:3], questions))[0] == "answer"
    far = scorer.score_entries(oos_vecs[0], range(30))
    assert cal.decide(retrieval.features("闲聊", far[:3], questions))[0] == "fallback"


def test_out_of_scope_examples_from_nlu_files(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: out_of_scope\n  examples: |\n'
        "    - [今天](date)天气怎么样\n    - 帮我订机票\n- intent: faq\n  examples: |\n"
        "    - 信用卡丢了怎么办\n- intent: chitchat\n  examples: |\n    - 讲个笑话\n"
        "    - 帮我订机票\n", encoding="utf-8")
    assert retrieval.load_out_of_scope(tmp_path) == ["今天天气怎么样", "帮我订机票", "讲个笑话"]


def test_question_key_drops_openings_and_punctuation() -> None:
    from knowledge_base.search.retrieval import asks_a_kb_question, question_key

    assert question_key("请问，我的信用卡丢了怎么办？") == "信用卡丢了怎么办"
    assert question_key("我的卡") == "我的卡"  # too short to strip: the opening is the question
    assert asks_a_kb_question("你好 信用卡丢了怎么办", ["信用卡丢了怎么办", "卡丢了咋办"])
    assert not asks_a_kb_question("在国外信用卡丢了怎么办", ["信用卡丢了怎么办"])
    assert not asks_a_kb_question("", ["信用卡丢了怎么办"])


@pytest.mark.parametrize("cap", [retrieval.MAX_OOS_ANSWERED, 1.0])
def test_out_of_scope_lines_near_the_kb_cap_the_answer_threshold(
        cap: float, monkeypatch: pytest.MonkeyPatch) -> None:
    centres, rows, qvecs, pvecs = clustered(n_entries=30, per_entry=7, noise=0.3)
    scorer = EntryScorer(qvecs, rows, pvecs)
    questions = [f"问题{r}" for r in range(len(rows))]
    loo = np.array([r for r in range(len(rows)) if r % 7], np.int64)
    rng = np.random.default_rng(9)
    far = unit(rng.standard_normal((90, centres.shape[1])))
    # one in ten off-topic lines looks like a KB question (e.g. 医保卡怎么激活 vs 信用卡激活)
    near = unit(centres[rng.integers(0, 30, 10)] + 0.3 * rng.standard_normal((10, 24)))
    oos_vecs = np.r_[far, near]
    monkeypatch.setattr(retrieval, "MAX_OOS_ANSWERED", cap)
    # worded like KB questions, so the lexical feature cannot tell them apart either
    oos = [f"问题{1000 + i}" for i in range(100)]
    cal = retrieval.calibrate([questions[r] for r in loo], qvecs[loo], rows[loo], loo, oos,
                              oos_vecs, scorer, questions)
    answered = cal.report["out_of_scope"]["answer_rate"]
    if cap < 1:
        assert answered <= cap + 0.01
        assert cal.report["targets"]["max_oos_answered"] == cap
    else:  # without the cap the precision target alone lets the look-alikes through
        assert answered >= 0.05
