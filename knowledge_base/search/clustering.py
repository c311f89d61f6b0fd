"""Group questions by meaning: agglomerative clustering of sentence embeddings.

Average-linkage hierarchical clustering on cosine distance (scipy), cut at a distance
threshold: two groups merge while the mean cosine distance between their members is below
``max_distance``. No number of clusters has to be guessed, and a lone odd question stays alone.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist


def cluster_labels(vectors: np.ndarray, max_distance: float) -> list[int]:
    """A cluster label per row of ``vectors`` (unit-length embeddings), 0-based, in order of
    first appearance."""
    n = len(vectors)
    if n == 0:
        return []
    if n == 1:
        return [0]
    distances = np.clip(pdist(np.asarray(vectors, dtype=np.float64), metric="cosine"), 0, 2)
    tree = linkage(distances, method="average")
    raw = fcluster(tree, t=max_distance, criterion="distance")
    relabel: dict[int, int] = {}
    return [relabel.setdefault(int(label), len(relabel)) for label in raw]


def medoid(vectors: np.ndarray) -> int:
    """Index of the member closest on average to the others (the group's most typical one)."""
    if len(vectors) <= 2:
        return 0
    sims = vectors @ vectors.T
    return int(np.argmax(sims.sum(axis=1)))
