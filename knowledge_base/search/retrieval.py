"""Entry scoring, the answer / clarify / fallback decision and its calibration.

Scoring (per query vector ``v``, all vectors unit length, e5 ``query:`` prompt on questions):

* FAISS finds the nearest question rows (standard + similar questions of every entry);
  their entries are the candidates.
* Each candidate entry is rescored exactly from its stored vectors:
  ``score = (max_q v·q + ALPHA * mean_q v·q + BETA * v·p) / (1 + ALPHA + BETA)`` where ``q``
  runs over the entry's questions and ``p`` is the entry's "question + answer" passage
  (e5 ``passage:`` prompt). The max keeps the sharpest paraphrase match, the mean rewards
  entries matched by many of their paraphrases, the passage brings in the answer's words.
  The weights were chosen on leave-one-out (see README.md).

Decision: logistic models over features of the top hits give
``p_answer`` = P(top-1 entry is right) and ``p_scope`` = P(the right entry is in the top 3).
``answer`` if ``p_answer >= t_answer``; else ``clarify`` if ``p_scope >= t_clarify``; else
``fallback``. The deciding pair is the **combined** model (``fit_combined``): fitted at every
build on three sources at once, the KB's held-back team-written paraphrases, the real customers'
dev queries shipped as numbers in ``calibration.json`` (``realcal.py``) and the NLU
``out_of_scope`` / ``chitchat`` examples; its thresholds are chosen out of fold for a target
precision on the real queries (and the team target on the team ones) under the out-of-scope
caps. The team-only and real-only pairs are still fitted and reported (``confidence.answer``,
``confidence.real_answer``); without a shipped real dev set the decision falls back to their OR.

Lexical signals were tried for ranking and left out: BM25 over jieba words of each entry's
questions, fused with the dense score at any weight tried, lowered hit@1 on the CCB dev half
(bench/results/ccb_policy.md, "Lexical fusion"); an exploratory learned reranker over dense +
BM25 + bigram overlap did not beat the dense order either.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from knowledge_base.content.entries import Entry

logger = logging.getLogger(__name__)

ALPHA = 0.5  # weight of the mean question similarity
BETA = 0.5  # weight of the question + answer passage similarity
CLARIFY_K = 3  # candidates shown when clarifying
# Targets the thresholds are chosen for (documented in README.md). Leave-one-out queries are
# harder than real ones (each entry loses one of its own paraphrases), so an 80 % precision
# target on them gives about 94 % on the independent held-out set (knowledge_base/eval).
TARGET_ANSWER_PRECISION = 0.80
TARGET_OOS_REJECTION = 0.90
# Out-of-scope messages must not be answered from the KB: at most this share of the
# out-of-scope calibration examples may reach the answer threshold.
MAX_OOS_ANSWERED = 0.02
# Precision the combined model's answer threshold must reach, out of fold, on the real
# customers' dev queries (issue 14 asks >= 0.90 on real questions; dev-to-test loses a little).
TARGET_REAL_ANSWER_PRECISION = 0.92
CALIBRATION_SEED = 13
MAX_CALIBRATION_QUERIES = 4000
FEATURES = ("s1", "margin", "max1", "lex", "raw1")
_ENTITY_RE = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}")


# ---------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class ScoredEntry:
    """One candidate entry with the numbers the decision uses."""

    entry_index: int
    score: float
    max_sim: float
    matched_row: int
    raw_max: float | None = None  # best question cosine before the adapter (None: same space)


class EntryScorer:
    """Exact per-entry scores from stored question and passage vectors.

    Rows are grouped by entry (``row_entry`` non-decreasing), so per-entry reductions are
    ``np.maximum.reduceat`` / ``np.add.reduceat`` over contiguous slices.
    """

    def __init__(self, qvecs: np.ndarray, row_entry: np.ndarray, pvecs: np.ndarray,
                 raw_qvecs: np.ndarray | None = None) -> None:
        if len(row_entry) and np.any(np.diff(row_entry) < 0):
            raise ValueError("question rows must be grouped by entry")
        self.qvecs = qvecs
        # The encoder's own vectors when qvecs went through the adapter: the adapter is fitted
        # to in-scope paraphrases only, and raw cosines still tell off-topic messages apart best.
        self.raw_qvecs = qvecs if raw_qvecs is None else raw_qvecs
        self.row_entry = row_entry
        self.pvecs = pvecs
        self.n_entries = len(pvecs)
        counts = np.bincount(row_entry, minlength=self.n_entries)
        if np.any(counts == 0):
            raise ValueError("every entry needs at least one question row")
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self.counts = counts

    def score_all(self, queries: np.ndarray,
                  exclude_rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
        """Scores of every entry for every query: (score, max_sim, argmax row), each (n_q, n_e).

        ``exclude_rows[i]`` (or -1) is a row hidden from query ``i``: leave-one-out.
        """
        sims = queries @ self.qvecs.T
        counts = np.broadcast_to(self.counts.astype(np.float32), (len(queries), self.n_entries))
        counts = counts.copy()
        if exclude_rows is not None:
            hit = exclude_rows >= 0
            qi = np.nonzero(hit)[0]
            ex = exclude_rows[hit]
            excluded_vals = sims[qi, ex].copy()
            sims[qi, ex] = -np.inf
            counts[qi, self.row_entry[ex]] -= 1
        max_sim = np.maximum.reduceat(sims, self.starts, axis=1)
        masked = np.where(np.isfinite(sims), sims, 0.0)
        mean_sim = np.add.reduceat(masked, self.starts, axis=1) / np.maximum(counts, 1)
        argmax = np.empty_like(max_sim, dtype=np.int64)
        for e, (s, c) in enumerate(zip(self.starts, self.counts, strict=True)):
            argmax[:, e] = s + np.argmax(sims[:, s : s + c], axis=1)
        if exclude_rows is not None:
            sims[qi, ex] = excluded_vals
        score = (max_sim + ALPHA * mean_sim + BETA * (queries @ self.pvecs.T)) / (1 + ALPHA + BETA)
        return score.astype(np.float32), max_sim.astype(np.float32), argmax

    def raw_max(self, raw_query: np.ndarray, entry: int, exclude_row: int = -1) -> float:
        """Best raw cosine between ``raw_query`` and the entry's questions."""
        s, c = int(self.starts[entry]), int(self.counts[entry])
        sims = self.raw_qvecs[s : s + c] @ raw_query
        if s <= exclude_row < s + c:
            sims = np.delete(sims, exclude_row - s)
        return float(sims.max()) if len(sims) else 0.0

    def score_entries(self, query: np.ndarray, entry_indices: Sequence[int],
                      raw_query: np.ndarray | None = None) -> list[ScoredEntry]:
        """Scores of the given entries for one query vector, best first; the best one also
        carries its raw cosine when ``raw_query`` is given (only the decision needs it)."""
        out = []
        pv = self.pvecs @ query
        for e in entry_indices:
            s, c = int(self.starts[e]), int(self.counts[e])
            sims = self.qvecs[s : s + c] @ query
            best = int(np.argmax(sims))
            score = (sims[best] + ALPHA * sims.mean() + BETA * pv[e]) / (1 + ALPHA + BETA)
            out.append(ScoredEntry(int(e), float(score), float(sims[best]), s + best))
        out.sort(key=lambda h: -h.score)
        if out and raw_query is not None:
            top = out[0]
            out[0] = dataclasses.replace(top, raw_max=self.raw_max(raw_query, top.entry_index))
        return out


# ---------------------------------------------------------------------------- features


def char_bigrams(text: str) -> set[str]:
    chars = [c for c in text.lower() if c.isalnum()]
    grams = {a + b for a, b in zip(chars, chars[1:], strict=False)}
    return grams or set(chars)


def lexical_overlap(query: str, matched: str) -> float:
    """Share of the query's character bigrams found in the matched question."""
    q = char_bigrams(query)
    return len(q & char_bigrams(matched)) / len(q) if q else 0.0


def features(query: str, hits: Sequence[ScoredEntry], questions: Sequence[str]) -> np.ndarray:
    """[s1, s1 - s2, cosine of the best question of the top entry, lexical overlap, that
    cosine before the adapter]."""
    if not hits:
        return np.zeros(len(FEATURES), np.float32)
    s1 = hits[0].score
    s2 = hits[1].score if len(hits) > 1 else s1 - 0.05
    lex = lexical_overlap(query, questions[hits[0].matched_row])
    raw1 = hits[0].raw_max if hits[0].raw_max is not None else hits[0].max_sim
    return np.array([s1, s1 - s2, hits[0].max_sim, lex, raw1], np.float32)


# Courtesy and possessive openings that do not change which question is asked.
_OPENINGS = ("你好", "您好", "请问一下", "请问", "我想问一下", "我想问", "问一下", "麻烦问下",
             "那个", "我的")


def question_key(text: str) -> str:
    """Normalised question text for exact matching: no punctuation, no courtesy opening."""
    from knowledge_base.content.entries import normalize_question

    key = normalize_question(text)
    changed = True
    while changed:
        changed = False
        for opening in _OPENINGS:
            if key.startswith(opening) and len(key) > len(opening) + 2:
                key = key[len(opening):]
                changed = True
    return key


def asks_a_kb_question(query: str, entry_questions: Sequence[str]) -> bool:
    """True when the query is (after normalisation) one of the entry's own questions.

    Calibration is fitted on leave-one-out paraphrases, which by construction never match a
    KB question verbatim, so the logistic model has no data for the most certain case of all:
    a cardholder typing the question as the KB words it. That case is answered directly.
    """
    key = question_key(query)
    return bool(key) and any(question_key(q) == key for q in entry_questions)


# ---------------------------------------------------------------------------- logistic model


@dataclass
class Logistic:
    """L2-regularised logistic regression on standardised features (fitted by IRLS)."""

    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, weights: np.ndarray,
            l2: float = 1.0, iterations: int = 50) -> Logistic:
        mean = x.mean(0)
        scale = x.std(0) + 1e-9
        z = np.c_[np.ones(len(x)), (x - mean) / scale].astype(np.float64)
        w = np.zeros(z.shape[1])
        reg = np.full(z.shape[1], l2)
        reg[0] = 0.0  # no penalty on the intercept
        for _ in range(iterations):
            p = 1 / (1 + np.exp(-(z @ w)))
            grad = z.T @ (weights * (p - y)) + reg * w
            curvature = (weights * p * (1 - p))[:, None]
            hess = (z * curvature).T @ z + np.diag(reg) + 1e-9 * np.eye(len(w))
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-8:
                break
        return cls(mean.tolist(), scale.tolist(), w[1:].tolist(), float(w[0]))

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(x) - np.asarray(self.mean)) / np.asarray(self.scale)
        return 1 / (1 + np.exp(-(z @ np.asarray(self.coef) + self.intercept)))


def _targets() -> dict[str, float]:
    return {"answer_precision": TARGET_ANSWER_PRECISION, "oos_rejection": TARGET_OOS_REJECTION,
            "max_oos_answered": MAX_OOS_ANSWERED}


@dataclass
class RealLanguage:
    """Decision models fitted on real customers' questions (``realcal.py``, committed as
    ``calibration.json``): P(top entry right) and P(right entry in the top 3) over the same
    features, with thresholds for the real-language target precision. On a build the
    thresholds are raised so that the KB's out-of-scope examples stay within the caps."""

    answer_model: Logistic
    scope_model: Logistic
    t_answer: float
    t_clarify: float
    fingerprint: str = ""
    # The real queries' decision features and outcomes (numbers only, never text), so every
    # build can fit one combined model on them together with its own team-written data.
    dev_set: RealDevSet | None = None

    def predict(self, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.answer_model.predict(feats), self.scope_model.predict(feats)

    def to_json(self) -> dict[str, Any]:
        return {"answer_model": self.answer_model.__dict__,
                "scope_model": self.scope_model.__dict__, "t_answer": self.t_answer,
                "t_clarify": self.t_clarify, "fingerprint": self.fingerprint,
                "dev_set": self.dev_set.to_json() if self.dev_set is not None else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RealLanguage:
        dev = data.get("dev_set")
        return cls(Logistic(**data["answer_model"]), Logistic(**data["scope_model"]),
                   float(data["t_answer"]), float(data["t_clarify"]),
                   str(data.get("fingerprint", "")),
                   RealDevSet.from_json(dev) if dev else None)


@dataclass
class RealDevSet:
    """Decision features of real customers' dev queries with their outcomes (top-1 right,
    right entry in the top 3) and paraphrase-group ids (folds keep a group together)."""

    x: np.ndarray
    correct1: np.ndarray
    correct3: np.ndarray
    groups: np.ndarray

    def __post_init__(self) -> None:
        self.x = np.asarray(self.x, np.float64).reshape(-1, len(FEATURES))
        self.correct1 = np.asarray(self.correct1, bool)
        self.correct3 = np.asarray(self.correct3, bool)
        self.groups = np.asarray(self.groups, np.int64)
        if not len(self.x) == len(self.correct1) == len(self.correct3) == len(self.groups):
            raise ValueError("real dev set: features, outcomes and groups differ in length")

    def to_json(self) -> dict[str, Any]:
        return {"x": [[round(float(v), 6) for v in row] for row in self.x],
                "correct1": [int(v) for v in self.correct1],
                "correct3": [int(v) for v in self.correct3],
                "groups": [int(v) for v in self.groups]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RealDevSet:
        return cls(np.array(data["x"], np.float64), np.array(data["correct1"], bool),
                   np.array(data["correct3"], bool), np.array(data["groups"], np.int64))


@dataclass
class Combined:
    """ONE decision model over both sources (``fit_combined``): P(top-1 right) and P(right entry
    in the top 3), fitted on this build's team-written queries, the real customers' dev queries
    and the out-of-scope examples together; thresholds chosen out of fold on that data."""

    answer_model: Logistic
    scope_model: Logistic
    t_answer: float
    t_clarify: float
    report: dict[str, Any] = field(default_factory=dict)

    def predict(self, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.answer_model.predict(feats), self.scope_model.predict(feats)

    def to_json(self) -> dict[str, Any]:
        return {"answer_model": self.answer_model.__dict__,
                "scope_model": self.scope_model.__dict__, "t_answer": self.t_answer,
                "t_clarify": self.t_clarify, "report": self.report}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Combined:
        return cls(Logistic(**data["answer_model"]), Logistic(**data["scope_model"]),
                   float(data["t_answer"]), float(data["t_clarify"]), data.get("report", {}))


@dataclass
class Calibration:
    """Decision models and thresholds (stored as JSON next to the index)."""

    answer_model: Logistic
    scope_model: Logistic
    t_answer: float
    t_clarify: float
    report: dict[str, Any] = field(default_factory=dict)
    real: RealLanguage | None = None
    combined: Combined | None = None

    def probabilities(self, feats: np.ndarray) -> dict[str, float]:
        """p_answer / p_scope of the team-data models, of the real-language ones, and of the
        combined model that decides (when the build has one)."""
        out = {"answer": float(self.answer_model.predict(feats)[0]),
               "scope": float(self.scope_model.predict(feats)[0])}
        if self.real is not None:
            real_answer, real_scope = self.real.predict(feats)
            out.update(real_answer=float(real_answer[0]), real_scope=float(real_scope[0]))
        if self.combined is not None:
            answer, scope = self.combined.predict(feats)
            out.update(combined_answer=float(answer[0]), combined_scope=float(scope[0]))
        return out

    def thresholds(self) -> dict[str, float]:
        """Every model's thresholds, keyed as ``probabilities`` keys its probabilities."""
        out = {"answer": self.t_answer, "clarify": self.t_clarify}
        if self.real is not None:
            out.update(real_answer=self.real.t_answer, real_clarify=self.real.t_clarify)
        if self.combined is not None:
            out.update(combined_answer=self.combined.t_answer,
                       combined_clarify=self.combined.t_clarify)
        return out

    def decide_probabilities(self, p: dict[str, float]) -> str:
        """With a combined model (team data + real customers' questions in one fit): answer at
        its calibrated answer threshold, clarify at its scope threshold, else fall back.

        Without one (no real dev set shipped): answer when either model is sure the top entry is
        right (each at its own calibrated threshold: team paraphrases, real customers'
        questions); clarify when either puts the right entry in the top 3; else fall back."""
        combined = self.combined
        if combined is not None and "combined_answer" in p:
            if p["combined_answer"] >= combined.t_answer:
                return "answer"
            if p["combined_scope"] >= combined.t_clarify:
                return "clarify"
            return "fallback"
        real = self.real
        if p["answer"] >= self.t_answer or (real is not None
                                            and p["real_answer"] >= real.t_answer):
            return "answer"
        if p["scope"] >= self.t_clarify or (real is not None
                                            and p["real_scope"] >= real.t_clarify):
            return "clarify"
        return "fallback"

    def decide(self, feats: np.ndarray) -> tuple[str, float, float]:
        """(decision, p_answer, p_scope)."""
        p = self.probabilities(feats)
        return self.decide_probabilities(p), p["answer"], p["scope"]

    def to_json(self) -> dict[str, Any]:
        return {"answer_model": self.answer_model.__dict__,
                "scope_model": self.scope_model.__dict__,
                "t_answer": self.t_answer, "t_clarify": self.t_clarify, "features": FEATURES,
                "alpha": ALPHA, "beta": BETA, "report": self.report,
                "targets": _targets(),
                "real": self.real.to_json() if self.real is not None else None,
                "combined": self.combined.to_json() if self.combined is not None else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        targets = _targets()
        if tuple(data.get("features", ())) != FEATURES or data.get("alpha") != ALPHA \
                or data.get("beta") != BETA or data.get("targets") != targets:
            raise ValueError("calibration was made for another scoring; rebuild the index")
        real = RealLanguage.from_json(data["real"]) if data.get("real") else None
        combined = Combined.from_json(data["combined"]) if data.get("combined") else None
        return cls(Logistic(**data["answer_model"]), Logistic(**data["scope_model"]),
                   float(data["t_answer"]), float(data["t_clarify"]), data.get("report", {}),
                   real, combined)


# ---------------------------------------------------------------------------- calibration data


def load_out_of_scope(nlu_dir: Path) -> list[str]:
    """The NLU ``out_of_scope`` and ``chitchat`` training examples (entity markup removed)."""
    texts: list[str] = []
    for path in sorted(nlu_dir.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in doc.get("nlu") or []:
            if not isinstance(item, dict) or item.get("intent") not in ("out_of_scope",
                                                                         "chitchat"):
                continue
            for line in str(item.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    text = _ENTITY_RE.sub(lambda m: m.group(1) or m.group(2), line[2:]).strip()
                    if text:
                        texts.append(text)
    return sorted(set(texts))


def _oof_predict(x: np.ndarray, y: np.ndarray, w: np.ndarray, folds: int = 5,
                 groups: np.ndarray | None = None) -> np.ndarray:
    """Out-of-fold probabilities, so thresholds are not chosen on fitted data. With
    ``groups``, rows of one group share a fold (paraphrases of one question never inform
    their own probabilities)."""
    rng = np.random.default_rng(CALIBRATION_SEED)
    if groups is None:
        fold = rng.permutation(len(x)) % folds
    else:
        unique, inverse = np.unique(groups, return_inverse=True)
        fold = (rng.permutation(len(unique)) % folds)[inverse]
    out = np.zeros(len(x))
    for f in range(folds):
        train, test = fold != f, fold == f
        out[test] = Logistic.fit(x[train], y[train], w[train]).predict(x[test])
    return out


def threshold_at_precision(p: np.ndarray, correct: np.ndarray, target: float) -> float | None:
    """Lowest ``p`` whose answered set (``p >=`` it) reaches ``target`` precision (unweighted);
    None when no threshold does."""
    order = np.argsort(-p, kind="stable")
    precision = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero(precision >= target)[0]
    return float(p[order][ok[-1]]) if len(ok) else None


def _answer_threshold(p: np.ndarray, correct: np.ndarray, w: np.ndarray) -> float:
    """Lowest threshold whose answered set (all queries at or above it) still reaches the
    target precision (weighted); above 1 (never answer) when no threshold does."""
    order = np.argsort(-p)
    precision = np.cumsum((w * correct)[order]) / np.cumsum(w[order])
    ok = np.nonzero(precision >= TARGET_ANSWER_PRECISION)[0]
    if not len(ok):
        return 1.01
    return float(p[order][ok[-1]])


def calibrate(queries: Sequence[str], query_vecs: np.ndarray, gold: np.ndarray,
              exclude_rows: np.ndarray | None, oos: Sequence[str], oos_vecs: np.ndarray,
              scorer: EntryScorer, questions: Sequence[str],
              raw_query_vecs: np.ndarray | None = None,
              raw_oos_vecs: np.ndarray | None = None,
              real: RealLanguage | None = None) -> Calibration:
    """Fit the decision from held-back in-scope queries and out-of-scope examples.

    ``*_vecs`` are in the scorer's space; ``raw_*`` are the same texts before the adapter.
    """
    feats_in, correct1, correct3 = _features_batch(queries, query_vecs, scorer, questions,
                                                   exclude_rows, gold, raw_query_vecs)
    feats_out, _, _ = _features_batch(oos, oos_vecs, scorer, questions, None, None,
                                      raw_oos_vecs)
    x = np.r_[feats_in, feats_out]
    # Out-of-scope gets the same total weight as in-scope (a 50/50 prior): the real share of
    # off-topic messages reaching the KB is unknown, so neither side dominates.
    n_in, n_out = len(feats_in), len(feats_out)
    w = np.r_[np.ones(n_in), np.full(n_out, n_in / max(n_out, 1))]
    y_answer = np.r_[correct1, np.zeros(n_out)].astype(float)
    y_scope = np.r_[correct3, np.zeros(n_out)].astype(float)

    p_answer = _oof_predict(x, y_answer, w)
    p_scope = _oof_predict(x, y_scope, w)
    t_answer = _answer_threshold(p_answer, y_answer, w)
    if n_out:
        t_answer = max(t_answer, float(np.quantile(p_answer[n_in:], 1 - MAX_OOS_ANSWERED)))
    t_clarify = float(np.quantile(p_scope[n_in:], TARGET_OOS_REJECTION)) if n_out else 0.5

    answer = p_answer >= t_answer
    clarify = p_scope >= t_clarify
    if real is not None:
        real = cap_real(real, feats_out, answer[n_in:], clarify[n_in:])
        real_answer, real_scope = real.predict(x)
        answer = answer | (real_answer >= real.t_answer)
        clarify = clarify | (real_scope >= real.t_clarify)
    combined = None
    if real is not None and real.dev_set is not None and len(real.dev_set.x) and n_in:
        combined = fit_combined(feats_in, correct1, correct3, gold, real.dev_set, feats_out)
        p1, p3 = combined.predict(x)
        answer = p1 >= combined.t_answer
        clarify = p3 >= combined.t_clarify
    clarify = ~answer & clarify
    ins = slice(0, n_in)
    outs = slice(n_in, None)
    report = {
        "in_scope_queries": n_in,
        "out_of_scope_queries": n_out,
        "hit@1": float(correct1.mean()) if n_in else 0.0,
        "hit@3": float(correct3.mean()) if n_in else 0.0,
        "in_scope": {
            "answer_rate": float(answer[ins].mean()) if n_in else None,
            "answer_precision": float(correct1[answer[ins]].mean()) if answer[ins].any() else None,
            "clarify_rate": float(clarify[ins].mean()) if n_in else None,
            "clarify_contains_gold": (float(correct3[clarify[ins]].mean())
                                      if clarify[ins].any() else None),
            "fallback_rate": float((~answer[ins] & ~clarify[ins]).mean()) if n_in else None,
        },
        "out_of_scope": {
            "answer_rate": float(answer[outs].mean()) if n_out else None,
            "clarify_rate": float(clarify[outs].mean()) if n_out else None,
            "fallback_rate": float((~answer[outs] & ~clarify[outs]).mean()) if n_out else None,
        },
        "targets": _targets(),
        "real_language": ({"t_answer": real.t_answer, "t_clarify": real.t_clarify,
                           "fingerprint": real.fingerprint} if real is not None else None),
        "decision": "combined" if combined is not None else "either model",
        "combined": combined.report if combined is not None else None,
    }
    return Calibration(Logistic.fit(x, y_answer, w), Logistic.fit(x, y_scope, w),
                       t_answer, t_clarify, report, real, combined)


def fit_combined(team_x: np.ndarray, team_c1: np.ndarray, team_c3: np.ndarray,
                 team_gold: np.ndarray, real: RealDevSet, oos_x: np.ndarray,
                 real_target: float = TARGET_REAL_ANSWER_PRECISION) -> Combined:
    """One answer model and one scope model over team-written queries (this build's held-back
    paraphrases), real customers' dev queries and out-of-scope examples together.

    Weights: the two in-scope sources share the in-scope weight equally (the team set is much
    larger, and real language is what cardholders send), out-of-scope gets as much as in-scope
    (the 50/50 prior of ``calibrate``). Folds keep an entry's paraphrases (team) and a
    paraphrase group (real) together. Thresholds, on out-of-fold probabilities:

    * answer: the lowest that reaches ``real_target`` precision on the real queries AND
      ``TARGET_ANSWER_PRECISION`` (weighted) on the team queries, with at most
      ``MAX_OOS_ANSWERED`` of the out-of-scope examples at or above it;
    * clarify: ``TARGET_OOS_REJECTION`` of the out-of-scope examples below it.
    """
    n_team, n_real, n_out = len(team_x), len(real.x), len(oos_x)
    if not n_team or not n_real:
        raise ValueError("the combined model needs team-written and real in-scope queries")
    n_in = n_team + n_real
    x = np.r_[team_x, real.x, oos_x].astype(np.float64)
    w = np.r_[np.full(n_team, n_in / (2 * n_team)), np.full(n_real, n_in / (2 * n_real)),
              np.full(n_out, n_in / max(n_out, 1))]
    y1 = np.r_[team_c1, real.correct1, np.zeros(n_out)].astype(float)
    y3 = np.r_[team_c3, real.correct3, np.zeros(n_out)].astype(float)
    team_groups = np.unique(np.asarray(team_gold, np.int64), return_inverse=True)[1]
    real_groups = np.unique(real.groups, return_inverse=True)[1] + team_groups.max() + 1
    groups = np.r_[team_groups, real_groups, real_groups.max() + 1 + np.arange(n_out)]
    p1 = _oof_predict(x, y1, w, groups=groups)
    p3 = _oof_predict(x, y3, w, groups=groups)
    team, real_rows, outs = slice(0, n_team), slice(n_team, n_in), slice(n_in, None)

    t_real = threshold_at_precision(p1[real_rows], y1[real_rows], real_target)
    # When the whole team set already reaches its target, it sets no bound at all (the lowest
    # team probability would otherwise become a threshold no real query is measured against).
    team_precision = float(np.sum(w[team] * y1[team]) / np.sum(w[team]))
    t_team = (0.0 if team_precision >= TARGET_ANSWER_PRECISION
              else _answer_threshold(p1[team], y1[team], w[team]))
    t_answer = max(1.01 if t_real is None else t_real, t_team)
    if n_out:
        t_answer = max(t_answer, float(np.quantile(p1[outs], 1 - MAX_OOS_ANSWERED)))
    t_clarify = float(np.quantile(p3[outs], TARGET_OOS_REJECTION)) if n_out else 0.5

    def source(rows: slice, c1: np.ndarray, c3: np.ndarray) -> dict[str, Any]:
        answered = p1[rows] >= t_answer
        clarified = ~answered & (p3[rows] >= t_clarify)
        return {"n": int(len(c1)), "answer_rate": float(answered.mean()),
                "precision": float(c1[answered].mean()) if answered.any() else None,
                "clarify_rate": float(clarified.mean()),
                "resolved": float((c1 & answered).mean() + (c3 & clarified).mean())}

    report = {
        "out_of_fold": {
            "team": source(team, np.asarray(team_c1, bool), np.asarray(team_c3, bool)),
            "real": source(real_rows, real.correct1, real.correct3),
            "out_of_scope_answered": float((p1[outs] >= t_answer).mean()) if n_out else None,
            "out_of_scope_clarified": (float(((p1[outs] < t_answer)
                                              & (p3[outs] >= t_clarify)).mean())
                                       if n_out else None),
        },
        "thresholds_from": {"real_precision": t_real, "team_precision": t_team},
        "targets": {"real_precision": real_target, "team_precision": TARGET_ANSWER_PRECISION,
                    "max_oos_answered": MAX_OOS_ANSWERED,
                    "oos_rejection_clarify": TARGET_OOS_REJECTION},
    }
    return Combined(Logistic.fit(x, y1, w), Logistic.fit(x, y3, w), t_answer, t_clarify, report)


def cap_real(real: RealLanguage, feats_out: np.ndarray, team_answer: np.ndarray,
             team_clarify: np.ndarray) -> RealLanguage:
    """The real-language thresholds raised (never lowered) so that, together with the team
    model, at most ``MAX_OOS_ANSWERED`` of this KB's out-of-scope examples are answered and at
    most ``1 - TARGET_OOS_REJECTION`` reach a clarify (or the team model's own share, if
    higher): out-of-scope messages must not be answered from the KB."""
    if not len(feats_out):
        return real
    p_answer, p_scope = real.predict(feats_out)

    def raised(t: float, p: np.ndarray, team: np.ndarray, cap: float) -> float:
        allowed = max(cap, float(team.mean()))
        for candidate in sorted({t, *[float(v) + 1e-9 for v in p if v >= t]}):
            if float((team | (p >= candidate)).mean()) <= allowed + 1e-12:
                return candidate
        return 1.01

    return dataclasses.replace(
        real,
        t_answer=raised(real.t_answer, p_answer, team_answer, MAX_OOS_ANSWERED),
        t_clarify=raised(real.t_clarify, p_scope, team_clarify | team_answer,
                         1 - TARGET_OOS_REJECTION))


def _features_batch(texts: Sequence[str], vecs: np.ndarray, scorer: EntryScorer,
                    questions: Sequence[str], exclude_rows: np.ndarray | None,
                    gold: np.ndarray | None, raw_vecs: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    feats = np.zeros((len(texts), len(FEATURES)), np.float32)
    c1 = np.zeros(len(texts), bool)
    c3 = np.zeros(len(texts), bool)
    for start in range(0, len(texts), 512):
        stop = min(start + 512, len(texts))
        ex = exclude_rows[start:stop] if exclude_rows is not None else None
        score, max_sim, argmax = scorer.score_all(vecs[start:stop], ex)
        order = np.argsort(-score, axis=1)[:, :CLARIFY_K]
        for i in range(stop - start):
            hits = [ScoredEntry(int(e), float(score[i, e]), float(max_sim[i, e]),
                                int(argmax[i, e])) for e in order[i]]
            if raw_vecs is not None and hits:
                excluded = int(ex[i]) if ex is not None else -1
                hits[0] = dataclasses.replace(hits[0], raw_max=scorer.raw_max(
                    raw_vecs[start + i], hits[0].entry_index, excluded))
            feats[start + i] = features(texts[start + i], hits, questions)
            if gold is not None:
                c1[start + i] = order[i, 0] == gold[start + i]
                c3[start + i] = gold[start + i] in order[i]
    return feats, c1, c3


def live_mask(entries: Sequence[Entry], channel: str, today: date) -> np.ndarray:
    return np.array([e.is_live(channel, today) for e in entries], bool)
