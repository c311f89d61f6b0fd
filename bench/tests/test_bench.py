"""Fast checks of the benchmark machinery (metrics, recipes, lexical fallback, result files).

Run with `python -m pytest -q bench/tests`. Tests that need ../shared/data skip without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench import ccb_data, common, scale
from bench.common import Skip, rank_metrics, ranks_from_lists, roc_auc, tie_aware_metrics


def test_tie_aware_metrics_without_ties_matches_plain_ranks() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random((40, 60))
    relevant = [[i % 60, (i * 7 + 1) % 60] for i in range(40)]
    ranks = np.array(
        [1 + int(np.sum(np.delete(scores[i], rel) > scores[i][rel].max()))
         for i, rel in enumerate(relevant)]
    )
    got = tie_aware_metrics(scores, relevant)
    want = rank_metrics(ranks)
    for key, value in want.items():
        assert got[key] == pytest.approx(value)


def test_tie_aware_metrics_all_tied_is_random_expectation() -> None:
    got = tie_aware_metrics(np.zeros((1, 10)), [[0]])
    assert got["hit@1"] == pytest.approx(0.1)
    assert got["hit@3"] == pytest.approx(0.3)
    assert got["mrr"] == pytest.approx(np.mean(1 / np.arange(1, 11)))


def test_tie_aware_metrics_partial_tie() -> None:
    # One wrong doc above; two relevant among four tied docs.
    got = tie_aware_metrics(np.array([[1.0, 0, 0, 0, 0]]), [[1, 2]], ks=(1, 2, 3))
    assert got["hit@1"] == 0.0
    assert got["hit@2"] == pytest.approx(0.5)
    assert got["hit@3"] == pytest.approx(5 / 6)
    assert got["mrr"] == pytest.approx(0.5 / 2 + (1 / 3) / 3 + (1 / 6) / 4)


def test_ranks_from_lists() -> None:
    ranks = ranks_from_lists([[3, 1, 2], [5, 6], []], [1, 9, 1], limit=3)
    assert ranks.tolist() == [2, 4, 4]
    assert rank_metrics(ranks, ks=(1, 3))["hit@3"] == pytest.approx(1 / 3)


def test_roc_auc_with_ties() -> None:
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5


def test_lexical_fallback_equals_sklearn() -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("scipy")
    from bench.lexical import Tfidf, _OwnTfidf, char_ngrams

    docs = ["信用卡怎么还款", "账单日是什么意思", "如何办理分期 还款", "卡丢了怎么办"]
    queries = ["还款怎么办", "分期"]
    sk = Tfidf(docs, "char").scores(queries)
    own = _OwnTfidf(char_ngrams)
    matrix = own.fit_transform(docs)
    mine = np.asarray((own.transform(queries) @ matrix.T).todense())
    assert np.allclose(sk, mine, atol=1e-6)


def test_clustered_vectors_are_unit_and_clustered() -> None:
    x, assign = scale.clustered_vectors(3000, seed=1)
    assert x.shape == (3000, scale.DIM)
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    same = x[assign == assign[0]]
    assert float((same @ same[0]).mean()) > float((x @ x[0]).mean())


def test_ivf_nlist() -> None:
    assert [scale.ivf_nlist(n) for n in (10_000, 100_000, 1_000_000)] == [256, 512, 2048]


def test_write_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "RESULTS_DIR", tmp_path)
    payload = common.base_payload("demo", ["numpy"])
    payload["runtime_s"] = 1.0
    json_path, md_path = common.write_result("demo", payload, "# demo")
    assert json.loads(json_path.read_text())["benchmark"] == "demo"
    assert md_path.read_text() == "# demo\n"


def test_missing_data_skips(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path / "absent"))
    with pytest.raises(Skip):
        ccb_data.ccb_287()


def _data_or_skip() -> None:
    if not (common.data_dir() / "ccb_bank_faq" / "qa_all.tsv").is_file():
        pytest.skip("../shared/data not present")


def test_ccb_recipes_match_the_data_readme() -> None:
    _data_or_skip()
    full = ccb_data.ccb_full()
    assert 7800 <= len(full.docs) <= 8000
    assert 1350 <= len(full.queries) <= 1400
    assert full.entry_starts()[:3] == [0, 1, 2]
    small = ccb_data.ccb_287()
    assert (small.n_entries, len(small.docs), len(small.queries)) == (287, 574, 547)
    assert small.entry_starts()[:3] == [0, 2, 4]


def test_ccb_policy_split_is_seeded_half_and_disjoint() -> None:
    from bench import ccb_policy

    a = ccb_policy.split_groups(287)
    assert a.sum() == 143 and (a == ccb_policy.split_groups(287)).all()
    assert not (a == ccb_policy.split_groups(287, seed=15)).all()


def test_ccb_policy_summary_and_precision_thresholds() -> None:
    from bench import ccb_policy

    rows = [
        {"expected": "a", "ranked": ["a", "b"], "decision": "answer", "confidence": 0.9},
        {"expected": "a", "ranked": ["b", "a"], "decision": "answer", "confidence": 0.8},
        {"expected": "c", "ranked": ["b", "d", "c"], "decision": "clarify", "confidence": 0.3},
        {"expected": "e", "ranked": ["f"], "decision": "fallback", "confidence": 0.1},
    ]
    s = ccb_policy.summarise(rows)
    assert s["answered_right_rate"] == 0.25 and s["precision_when_answering"] == 0.5
    assert s["clarify_rate"] == 0.25 and s["clarify_offered_right_rate"] == 0.25
    assert s["resolved_rate"] == 0.5 and s["fallback_rate"] == 0.25
    got = ccb_policy.at_precision(rows, rows)
    # only the top-confidence query is answered at 90 % / 95 % precision
    assert got["0.90"]["threshold_on_dev"] == 0.9
    assert got["0.90"]["test"] == {"answer_rate": 0.25, "precision": 1.0}
    assert ccb_policy.at_precision(rows, rows, "missing") == {}

def test_english_summary_counts_any_labelled_entry_as_a_hit() -> None:
    from bench.english import summarise

    rows = [
        {"expected": ["a", "b"], "ranked": ["b", "c"], "decision": "answer"},  # right answer
        {"expected": ["a"], "ranked": ["c", "a"], "decision": "clarify"},  # offered in a clarify
        {"expected": ["a"], "ranked": ["c", "d", "e", "a"], "decision": "answer"},  # wrong
        {"expected": ["a"], "ranked": [], "decision": "fallback"},
    ]
    s = summarise(rows)
    assert s["hit@1"] == 0.25 and s["hit@3"] == 0.5
    assert s["answered_precision"] == 0.5 and s["clarify_rate"] == 0.25
    assert s["clarify_offered_right_rate"] == 0.25 and s["false_fallback_rate"] == 0.25
    assert s["resolved_rate"] == 0.5
    assert "answer_rate" not in summarise([{**r, "decision": None} for r in rows])
