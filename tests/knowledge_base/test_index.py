"""VectorIndex: kind chosen by size, exact vs HNSW / IVF results, save/load, faiss threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

from knowledge_base.search import index as kb_index
from knowledge_base.search.index import (
    HNSW_THRESHOLD,
    IVF_NPROBE,
    IVF_THRESHOLD,
    VectorIndex,
    ivf_nlist,
    kind_for_size,
)


def unit(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_kind_by_size() -> None:
    assert kind_for_size(10) == "flat"
    assert kind_for_size(HNSW_THRESHOLD - 1) == "flat"
    assert kind_for_size(HNSW_THRESHOLD) == "hnsw"
    assert VectorIndex.build(unit(300), threshold=200).kind == "hnsw"
    assert VectorIndex.build(unit(100), threshold=200).kind == "flat"


def test_kind_tiers() -> None:
    assert HNSW_THRESHOLD == 50_000 and IVF_THRESHOLD == 500_000
    assert kind_for_size(IVF_THRESHOLD - 1) == "hnsw"
    assert kind_for_size(IVF_THRESHOLD) == "ivf"
    assert kind_for_size(5_000_000) == "ivf"
    # Small overrides (the old positional threshold still means the HNSW one).
    assert kind_for_size(150, 200) == "flat"
    assert kind_for_size(250, 200, ivf_threshold=300) == "hnsw"
    assert kind_for_size(300, threshold=200, ivf_threshold=300) == "ivf"
    assert kind_for_size(100, ivf_threshold=100) == "ivf"
    assert VectorIndex.build(unit(2000), threshold=200, ivf_threshold=1000).kind == "ivf"


def test_ivf_nlist() -> None:
    assert [ivf_nlist(n) for n in (500_000, 1_000_000, 4_000_000)] == [1024, 2048, 4096]
    assert ivf_nlist(10**12) == kb_index.IVF_MAX_NLIST
    assert ivf_nlist(20_000) == 256
    assert ivf_nlist(1_000) == 16  # every list keeps 40 training points
    assert ivf_nlist(10) == 1


def clustered(n: int, dim: int = 32, clusters: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    x = centres[rng.integers(clusters, size=n)] + 0.4 * rng.standard_normal((n, dim)).astype(
        np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_ivf_agrees_with_exact_search() -> None:
    vecs = clustered(20_000)
    queries = clustered(200, seed=1)
    ivf = VectorIndex.build(vecs, ivf_threshold=10_000)
    assert ivf.kind == "ivf"
    assert (ivf.faiss_index.nlist, ivf.faiss_index.nprobe) == (256, IVF_NPROBE)
    flat_ids = VectorIndex.build(vecs, kind="flat").search(queries, 1)[1]
    assert (ivf.search(queries, 1)[1] == flat_ids).mean() >= 0.95
    # Deterministic: the training sample and k-means are seeded.
    again = VectorIndex.build(vecs, ivf_threshold=10_000)
    np.testing.assert_array_equal(again.search(queries, 5)[1], ivf.search(queries, 5)[1])


def test_ivf_save_and_load_keep_nprobe(tmp_path: Path) -> None:
    vecs = clustered(4000)
    index = VectorIndex.build(vecs, kind="ivf")
    q = clustered(20, seed=3)
    expected = index.search(q, 3)[1]
    index.faiss_index.nprobe = 1  # load restores the serving setting, whatever was saved
    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path)
    assert (loaded.kind, loaded.dim, len(loaded)) == ("ivf", 32, 4000)
    assert loaded.faiss_index.nprobe == min(IVF_NPROBE, loaded.faiss_index.nlist) == IVF_NPROBE
    np.testing.assert_array_equal(loaded.search(q, 3)[1], expected)


def in_fresh_thread(fn: Callable[[], Any]) -> int:
    """Run ``fn`` in a new thread (fresh OpenMP setting) and return its faiss thread count."""
    out: list[int] = []

    def run() -> None:
        fn()
        out.append(faiss.omp_get_max_threads())

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    return out[0]


def test_one_faiss_thread_after_load_and_in_searching_threads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    index = VectorIndex.build(unit(50))
    index.save(tmp_path)
    assert in_fresh_thread(lambda: VectorIndex.load(tmp_path)) == 1
    # A request thread that never loaded anything (OpenMP keeps the setting per thread).
    assert in_fresh_thread(lambda: index.search(unit(1), 3)) == 1


def test_omp_num_threads_overrides_the_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = in_fresh_thread(lambda: None)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    VectorIndex.build(unit(50)).save(tmp_path)
    assert in_fresh_thread(lambda: VectorIndex.load(tmp_path)) == default


def test_flat_is_exact_inner_product() -> None:
    vecs, queries = unit(500), unit(20, seed=1)
    scores, ids = VectorIndex.build(vecs, kind="flat").search(queries, 5)
    expected = np.argsort(-(queries @ vecs.T), axis=1)[:, :5]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(scores[:, 0], (queries @ vecs.T).max(1), rtol=1e-5)


def test_hnsw_finds_the_same_nearest_neighbours() -> None:
    vecs = unit(2000)
    queries = vecs[:50] + 0.01 * unit(50, seed=2)
    flat_ids = VectorIndex.build(vecs, kind="flat").search(queries, 1)[1]
    hnsw_ids = VectorIndex.build(vecs, kind="hnsw").search(queries, 1)[1]
    assert (flat_ids == hnsw_ids).mean() >= 0.98


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_save_and_load_round_trip(tmp_path: Path, kind: str) -> None:
    vecs = unit(400)
    index = VectorIndex.build(vecs, kind=kind)  # type: ignore[arg-type]
    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path)
    assert (loaded.kind, loaded.dim, len(loaded)) == (kind, 32, 400)
    q = unit(5, seed=3)
    np.testing.assert_array_equal(loaded.search(q, 3)[1], index.search(q, 3)[1])


def test_k_is_clamped_and_dimension_checked() -> None:
    index = VectorIndex.build(unit(3))
    assert index.search(unit(1), 10)[1].shape == (1, 3)
    with pytest.raises(ValueError, match="dimension"):
        index.search(np.ones((1, 8), np.float32), 1)
