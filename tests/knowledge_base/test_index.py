"""VectorIndex: kind chosen by size, exact vs HNSW results, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge_base.index import HNSW_THRESHOLD, VectorIndex, kind_for_size


def unit(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_kind_by_size() -> None:
    assert kind_for_size(10) == "flat"
    assert kind_for_size(HNSW_THRESHOLD - 1) == "flat"
    assert kind_for_size(HNSW_THRESHOLD) == "hnsw"
    assert VectorIndex.build(unit(300), threshold=200).kind == "hnsw"
    assert VectorIndex.build(unit(100), threshold=200).kind == "flat"


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


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
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
