"""Escalation-risk model of the cardholder's lines: the model signal of quality inspection.

A character 1-3-gram TF-IDF + logistic regression (scikit-learn, installed in the service
runtime) trained from `data/escalation_train.tsv`, a labelled set the project ships
(1 = angry / complaining / threatening to escalate, 0 = neutral). It is trained in about
0.1 s on first use (never at import), nothing is downloaded. `data/escalation_heldout.tsv` is
a separate labelled set it never trains on; `evaluate()` reports accuracy on it
(tests/api/test_quality.py checks it, README states the figure).
"""

from __future__ import annotations

import csv
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
TRAIN = DATA / "escalation_train.tsv"
HELDOUT = DATA / "escalation_heldout.tsv"
_lock = threading.Lock()


def load(path: Path) -> tuple[list[str], list[int]]:
    texts: list[str] = []
    labels: list[int] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            texts.append(row["text"].strip())
            labels.append(int(row["label"]))
    return texts, labels


@dataclass
class RiskModel:
    pipeline: Any

    def risk(self, texts: list[str]) -> list[float]:
        """Probability of escalation risk of each line."""
        if not texts:
            return []
        return [float(p) for p in self.pipeline.predict_proba(texts)[:, 1]]


def train(path: Path = TRAIN) -> RiskModel:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts, labels = load(path)
    pipeline = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1),
        LogisticRegression(C=10.0, max_iter=1000, class_weight="balanced"))
    pipeline.fit(texts, labels)
    return RiskModel(pipeline)


@lru_cache(maxsize=1)
def _cached() -> RiskModel:
    return train()


def get_model() -> RiskModel:
    with _lock:
        return _cached()


def evaluate(model: RiskModel | None = None, path: Path = HELDOUT,
             threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, precision and recall of the risk class on the held-out set."""
    model = model or get_model()
    texts, labels = load(path)
    predicted = [int(p >= threshold) for p in model.risk(texts)]
    tp = sum(1 for p, y in zip(predicted, labels, strict=True) if p == y == 1)
    correct = sum(1 for p, y in zip(predicted, labels, strict=True) if p == y)
    positives = sum(predicted)
    actual = sum(labels)
    return {"n": len(labels), "accuracy": round(correct / len(labels), 4),
            "precision": round(tp / positives, 4) if positives else 0.0,
            "recall": round(tp / actual, 4) if actual else 0.0}
