"""Vector index over unit vectors (inner product = cosine): exact, HNSW or IVF by size.

Three tiers, chosen on the scale benchmark (`bench/results/scale.md`: 384-d clustered vectors,
one query per call, one faiss thread):

- below ``HNSW_THRESHOLD`` (50k): exact ``IndexFlatIP`` (p99 0.89 ms at 10k; 19 ms at 100k);
- from 50k to below ``IVF_THRESHOLD`` (500k): HNSW M32 / efConstruction 200 / efSearch 128
  (recall@10 0.9998, p99 1.2 ms at 100k, but 78 s to build there; at 1M not even built within
  the bench's time budget, and a cheap M16 took 243 s for recall 0.887);
- from 500k: IVF-Flat, nlist ~2*sqrt(n), nprobe 32 (at 1M: recall@10 0.979, p99 5.5 ms, 46 s to
  build; exact search is p99 136 ms there).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

IndexKind = Literal["flat", "hnsw", "ivf"]
# Exact search is a few ms per query up to ~50k x 384 floats; above that HNSW keeps latency
# flat at a small recall cost (bench at 100k: exact p99 19 ms, HNSW p99 1.2 ms at recall 0.9998).
HNSW_THRESHOLD = 50_000
# From here IVF: HNSW's build time grows too fast (78 s at 100k; M16 took 243 s at 1M), while
# IVF-Flat (nlist 2048, nprobe 32) built in 46 s at 1M and met recall@10 0.979 at p99 5.5 ms.
IVF_THRESHOLD = 500_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128
IVF_NPROBE = 32
IVF_MAX_NLIST = 16_384  # k-means cost grows with nlist^2; 16k lists would suit ~67M vectors
IVF_TRAIN_PER_LIST = 40  # k-means sample per list (faiss warns below 39)
IVF_NITER = 10  # k-means iterations, as benchmarked
IVF_TRAIN_SEED = 20240601
INDEX_FILE = "vectors.faiss"
META_FILE = "vectors.json"


def kind_for_size(n: int, threshold: int = HNSW_THRESHOLD,
                  ivf_threshold: int = IVF_THRESHOLD) -> IndexKind:
    """Exact below ``threshold`` vectors, IVF at or above ``ivf_threshold``, HNSW in between."""
    if n >= ivf_threshold:
        return "ivf"
    return "flat" if n < threshold else "hnsw"


def ivf_nlist(n: int) -> int:
    """IVF lists for ``n`` vectors: the power of two nearest 2*sqrt(n) (1024 at 500k, 2048 at
    1M), at most ``IVF_MAX_NLIST`` and small enough that each list gets ``IVF_TRAIN_PER_LIST``
    training points."""
    if n < 1:
        return 1
    nlist = 2 ** round(np.log2(2.0 * np.sqrt(n)))
    fits = max(1, n // IVF_TRAIN_PER_LIST)
    nlist = min(nlist, IVF_MAX_NLIST, 2 ** int(np.log2(fits)))
    return int(max(1, nlist))


_THREADS = threading.local()


def limit_faiss_threads() -> None:
    """One faiss OpenMP thread in the calling thread unless OMP_NUM_THREADS is set (once per
    thread, so a later explicit ``faiss.omp_set_num_threads`` in that thread stands).

    On our shared 2-core machines two threads spin against other processes: exact search at 10k
    took p99 40 ms with two threads and 0.89 ms with one (`bench/results/scale.md`). libgomp
    keeps the setting per thread (a thread started later gets the default again), so it is
    applied in every thread that loads or searches an index, not once per process."""
    if getattr(_THREADS, "limited", False):
        return
    _THREADS.limited = True
    if "OMP_NUM_THREADS" not in os.environ:
        import faiss

        faiss.omp_set_num_threads(1)


@dataclass
class VectorIndex:
    """A FAISS inner-product index; ``search`` returns (scores, row ids), -1 for empty slots."""

    kind: IndexKind
    dim: int
    faiss_index: Any

    @classmethod
    def build(cls, vectors: np.ndarray, kind: IndexKind | Literal["auto"] = "auto",
              threshold: int = HNSW_THRESHOLD,
              ivf_threshold: int = IVF_THRESHOLD) -> VectorIndex:
        """Index ``vectors``; ``auto`` picks the kind by size (:func:`kind_for_size`).

        Builds keep faiss's default thread count (one-off, CPU-bound work)."""
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be 2-D, got shape {vectors.shape}")
        n, dim = vectors.shape
        chosen: IndexKind = (kind_for_size(n, threshold, ivf_threshold) if kind == "auto"
                             else kind)
        index: Any
        if chosen == "flat":
            index = faiss.IndexFlatIP(dim)
        elif chosen == "hnsw":
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
        elif chosen == "ivf":
            if n == 0:
                raise ValueError("an IVF index needs vectors to train on")
            nlist = ivf_nlist(n)
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist,
                                       faiss.METRIC_INNER_PRODUCT)
            index.cp.niter = IVF_NITER
            n_train = min(n, IVF_TRAIN_PER_LIST * nlist)
            sample = np.sort(np.random.default_rng(IVF_TRAIN_SEED).choice(
                n, n_train, replace=False))
            index.train(vectors[sample])
            index.nprobe = min(IVF_NPROBE, nlist)
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        if n:
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
        # API requests search from worker threads, each with its own OpenMP setting.
        limit_faiss_threads()
        scores, ids = self.faiss_index.search(queries, k)
        return scores, ids

    def save(self, directory: Path) -> None:
        import faiss

        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.faiss_index, str(directory / INDEX_FILE))
        meta: dict[str, Any] = {"kind": self.kind, "dim": self.dim, "count": len(self)}
        if self.kind == "ivf":
            meta["nlist"] = int(self.faiss_index.nlist)
        (directory / META_FILE).write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> VectorIndex:
        import faiss

        limit_faiss_threads()
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        index: Any = faiss.read_index(str(directory / INDEX_FILE))
        if index.ntotal != meta["count"] or index.d != meta["dim"]:
            raise ValueError(f"index in {directory} does not match its metadata")
        if meta["kind"] == "hnsw":
            index.hnsw.efSearch = HNSW_EF_SEARCH
        elif meta["kind"] == "ivf":
            index.nprobe = min(IVF_NPROBE, int(index.nlist))
        return cls(meta["kind"], int(meta["dim"]), index)
