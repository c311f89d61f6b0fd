"""Real-language calibration: decision models fitted on real customers' questions.

The team's paraphrases are written in the KB's own style; real cardholders write with context,
numbers, several clauses, typos, forum phrasing and bank names, and score lower against the
same entry. So besides the per-build models fitted on team-written data (``retrieval.py``), the
decision has a second pair of logistic models over the same features, fitted on real
customers' questions: the CCB FAQ paraphrase groups in ``../shared/data`` (real questions to a
bank), queried against a KB made of the groups' standard questions (``python -m bench realcal``,
dev half of the groups only; the other half is the reported test split of ``bench ccb_policy``).

What ships is numbers only: ``calibration.json`` next to this module (coefficients, thresholds,
the dev queries' decision features and outcomes with group ids, and provenance: data file
hashes, split, counts; never a question's text). Every build fits its one combined decision
model (``retrieval.fit_combined``) on those dev features together with its own team data.
Every build reads that file, so the build works the same when ``../shared/data`` is absent;
the real-only thresholds are then raised on each build so the KB's own out-of-scope examples
stay within the caps (``retrieval.cap_real``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_base.search.retrieval import (
    ALPHA,
    BETA,
    FEATURES,
    TARGET_OOS_REJECTION,
    Logistic,
    RealDevSet,
    RealLanguage,
    _oof_predict,
    threshold_at_precision,
)

logger = logging.getLogger(__name__)

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
TARGET_REAL_PRECISION = 0.90  # precision of direct answers on real questions (issue 14)
REPORTED_PRECISIONS = (0.90, 0.95)
MAX_OOS_ANSWERED_REAL = 0.02
FORMAT = 2  # 2: carries the dev queries' features and outcomes for the combined model


def load_real_language(path: Path = CALIBRATION_FILE) -> RealLanguage | None:
    """The committed real-language models, or None (missing, or made for another scoring)."""
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError) as exc:
        logger.warning("no real-language calibration at %s (%s)", path, exc)
        return None
    if data.get("format") != FORMAT or tuple(data.get("features", ())) != FEATURES \
            or data.get("alpha") != ALPHA or data.get("beta") != BETA:
        logger.warning("real-language calibration %s was made for another scoring; ignored",
                       path)
        return None
    real = RealLanguage.from_json(data)
    return dataclasses.replace(real, fingerprint=hashlib.sha256(raw).hexdigest()[:12])


def fit_real_language(x_in: np.ndarray, correct1: np.ndarray, correct3: np.ndarray,
                      x_oos: np.ndarray, target: float = TARGET_REAL_PRECISION,
                      groups: np.ndarray | None = None) -> tuple[RealLanguage, dict[str, Any]]:
    """Fit both models on real in-scope queries (features, top-1 / top-3 right) and
    out-of-scope examples; thresholds on out-of-fold probabilities: answer at ``target``
    precision with at most 2 % of the out-of-scope examples reaching it, clarify where 90 % of
    them fall below. ``groups`` (one id per in-scope query, e.g. its paraphrase group) keeps a
    group's queries in one fold: paraphrases of a question are not independent samples."""
    n_in, n_out = len(x_in), len(x_oos)
    fold_groups = None
    if groups is not None:
        fold_groups = np.r_[np.asarray(groups, np.int64),
                            np.int64(np.max(groups, initial=0)) + 1 + np.arange(n_out)]
    x = np.r_[x_in, x_oos]
    w = np.r_[np.ones(n_in), np.full(n_out, n_in / max(n_out, 1))]
    y1 = np.r_[correct1, np.zeros(n_out)].astype(float)
    y3 = np.r_[correct3, np.zeros(n_out)].astype(float)
    p1 = _oof_predict(x, y1, w, groups=fold_groups)
    p3 = _oof_predict(x, y3, w, groups=fold_groups)

    def answer_threshold(precision: float) -> float:
        t = threshold_at_precision(p1[:n_in], correct1.astype(float), precision)
        t = 1.01 if t is None else t
        if n_out:
            t = max(t, float(np.quantile(p1[n_in:], 1 - MAX_OOS_ANSWERED_REAL)))
        return t

    t_answer = answer_threshold(target)
    t_clarify = float(np.quantile(p3[n_in:], TARGET_OOS_REJECTION)) if n_out else 0.5
    report: dict[str, Any] = {"in_scope_queries": n_in, "out_of_scope_queries": n_out,
                              "folds": "by group" if groups is not None else "by query",
                              "hit@1": float(correct1.mean()), "hit@3": float(correct3.mean()),
                              "out_of_fold": {}}
    for precision in REPORTED_PRECISIONS:
        t = answer_threshold(precision)
        answered = p1[:n_in] >= t
        report["out_of_fold"][f"{precision:.2f}"] = {
            "threshold": t, "answer_rate": float(answered.mean()),
            "precision": float(correct1[answered].mean()) if answered.any() else None,
            "oos_answered": float((p1[n_in:] >= t).mean()) if n_out else None}
    dev_groups = np.asarray(groups, np.int64) if groups is not None else np.arange(n_in)
    real = RealLanguage(Logistic.fit(x, y1, w), Logistic.fit(x, y3, w), t_answer, t_clarify,
                        dev_set=RealDevSet(x_in, correct1, correct3, dev_groups))
    return real, report


def calibration_document(real: RealLanguage, report: dict[str, Any],
                         provenance: dict[str, Any]) -> dict[str, Any]:
    """The JSON that ships (numbers and provenance only)."""
    return {"format": FORMAT, "features": list(FEATURES), "alpha": ALPHA, "beta": BETA,
            "target_precision": TARGET_REAL_PRECISION, **real.to_json(),
            "report": report, "provenance": provenance}
