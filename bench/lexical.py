"""Lexical baselines: BM25 on jieba words (rank_bm25) and TF-IDF cosine on characters / words.

TF-IDF uses scikit-learn when it is installed (it comes with sentence-transformers) and otherwise
an equivalent scipy implementation with scikit-learn's defaults (raw term counts, smoothed idf
`ln((1 + n) / (1 + df)) + 1`, L2 normalisation).
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Analyzer = Callable[[str], list[str]]


def _is_word(token: str) -> bool:
    """False for whitespace and pure punctuation/symbol tokens."""
    return any(not unicodedata.category(ch).startswith(("P", "S", "Z", "C")) for ch in token)


def jieba_words(text: str) -> list[str]:
    """jieba (precise mode) tokens, lower-cased, without whitespace and punctuation."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return [t.lower() for t in jieba.lcut(text) if _is_word(t)]


def char_ngrams(text: str, lo: int = 1, hi: int = 3) -> list[str]:
    """Character n-grams of the lower-cased text, as scikit-learn's analyzer="char" makes them
    (whitespace runs collapsed to one space)."""
    text = " ".join(text.lower().split())
    return [text[i : i + n] for n in range(lo, hi + 1) for i in range(len(text) - n + 1)]


class Bm25:
    """rank_bm25's BM25Okapi (k1 = 1.5, b = 0.75) over jieba words."""

    def __init__(self, docs: Sequence[str], tokenize: Analyzer = jieba_words) -> None:
        from rank_bm25 import BM25Okapi

        self.tokenize = tokenize
        self.model = BM25Okapi([tokenize(d) or [""] for d in docs])

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """(queries x docs) BM25 scores."""
        return np.vstack(
            [np.asarray(self.model.get_scores(self.tokenize(q)), dtype=np.float32) for q in queries]
        )


class Tfidf:
    """TF-IDF cosine, fitted on the indexed texts (the queries are unseen at fit time)."""

    def __init__(self, docs: Sequence[str], kind: str) -> None:
        if kind not in ("char", "word"):
            raise ValueError(kind)
        self.kind = kind
        self.backend = "scikit-learn"
        try:
            from sklearn.feature_extraction.text import TfidfVectorizer
        except ImportError:
            self.backend = "scipy (own)"
            self.vectorizer: Any = _OwnTfidf(char_ngrams if kind == "char" else jieba_words)
        else:
            if kind == "char":
                self.vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))
            else:
                self.vectorizer = TfidfVectorizer(analyzer=jieba_words)
        self.doc_matrix = self.vectorizer.fit_transform(list(docs))

    def transform(self, texts: Sequence[str]) -> Any:
        """L2-normalised sparse TF-IDF rows."""
        return self.vectorizer.transform(list(texts))

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """(queries x docs) cosine similarities."""
        return np.asarray((self.transform(queries) @ self.doc_matrix.T).todense(), np.float32)


def pair_cosines(left: Any, right: Any) -> np.ndarray:
    """Row-wise cosine of two L2-normalised sparse matrices."""
    return np.asarray(left.multiply(right).sum(axis=1)).ravel()


class _OwnTfidf:
    """Minimal TfidfVectorizer equivalent (fallback when scikit-learn is absent)."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.vocab: dict[str, int] = {}
        self.idf = np.zeros(0)

    def fit_transform(self, texts: list[str]) -> Any:
        counts = [Counter(self.analyzer(t)) for t in texts]
        df: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
        self.vocab = {term: i for i, term in enumerate(sorted(df))}
        n = len(texts)
        self.idf = np.array(
            [math.log((1 + n) / (1 + df[t])) + 1.0 for t in sorted(df)], dtype=np.float64
        )
        return self._matrix(counts)

    def transform(self, texts: list[str]) -> Any:
        return self._matrix([Counter(self.analyzer(t)) for t in texts])

    def _matrix(self, counts: list[Counter[str]]) -> Any:
        from scipy import sparse

        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for r, c in enumerate(counts):
            for term, tf in c.items():
                col = self.vocab.get(term)
                if col is not None:
                    rows.append(r)
                    cols.append(col)
                    vals.append(tf * self.idf[col])
        m = sparse.csr_matrix((vals, (rows, cols)), shape=(len(counts), len(self.vocab)))
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.diags(1.0 / norms) @ m
