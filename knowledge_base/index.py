"""Vector index over unit vectors (inner product = cosine), exact or HNSW by size."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

IndexKind = Literal["flat", "hnsw"]
# Exact search over 50k x 384 floats is ~20 MFLOP per query (a few ms); above that HNSW keeps
# latency flat at a small recall cost.
HNSW_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128
INDEX_FILE = "vectors.faiss"
META_FILE = "vectors.json"


def kind_for_size(n: int, threshold: int = HNSW_THRESHOLD) -> IndexKind:
    """Exact below ``threshold`` vectors, HNSW at or above."""
    return "flat" if n < threshold else "hnsw"


@dataclass
class VectorIndex:
    """A FAISS inner-product index; ``search`` returns (scores, row ids), -1 for empty slots."""

    kind: IndexKind
    dim: int
    faiss_index: Any

    @classmethod
    def build(cls, vectors: np.ndarray, kind: IndexKind | Literal["auto"] = "auto",
              threshold: int = HNSW_THRESHOLD) -> VectorIndex:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be 2-D, got shape {vectors.shape}")
        dim = vectors.shape[1]
        chosen: IndexKind = kind_for_size(len(vectors), threshold) if kind == "auto" else kind
        index: Any
        if chosen == "flat":
            index = faiss.IndexFlatIP(dim)
        elif chosen == "hnsw":
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        if len(vectors):
            index.add(vectors)
        return cls(chosen, dim, index)

    def __len__(self) -> int:
        return int(self.faiss_index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if queries.shape[1] != self.dim:
            raise ValueError(f"query dimension {queries.shape[1]} != index dimension {self.dim}")
        k = max(1, min(k, len(self)))
        if len(self) == 0:
            return (np.full((len(queries), 1), -np.inf, np.float32),
                    np.full((len(queries), 1), -1, np.int64))
        scores, ids = self.faiss_index.search(queries, k)
        return scores, ids

    def save(self, directory: Path) -> None:
        import faiss

        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.faiss_index, str(directory / INDEX_FILE))
        meta = {"kind": self.kind, "dim": self.dim, "count": len(self)}
        (directory / META_FILE).write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> VectorIndex:
        import faiss

        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        index: Any = faiss.read_index(str(directory / INDEX_FILE))
        if index.ntotal != meta["count"] or index.d != meta["dim"]:
            raise ValueError(f"index in {directory} does not match its metadata")
        if meta["kind"] == "hnsw":
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(meta["kind"], int(meta["dim"]), index)
