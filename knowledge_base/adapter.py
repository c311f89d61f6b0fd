"""A linear adapter that fits the frozen encoder to this KB's own paraphrases.

Each entry's standard and similar questions are paraphrases of one another, so they are
training pairs. Instead of fine-tuning the transformer (minutes per epoch on 2 cores, and it
hurt out-of-scope separation, see README), we learn one ``dim x dim`` matrix ``W`` on top of the
frozen embeddings with the MultipleNegativesRankingLoss objective (in-batch negatives, both
directions): paraphrases of one entry move together, other entries' questions move apart.
Training works on cached vectors only, so it takes seconds and runs on every index build.

Vectors are mapped as ``normalize(x @ W)``; an adapter without a matrix is the identity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# Chosen on a split of the seed KB's own similar questions (3 per entry held back), not on the
# evaluation sets; see knowledge_base/README.md "Adapter".
STEPS = 200
BATCH = 256
LEARNING_RATE = 1e-3
SCALE = 20.0  # the MultipleNegativesRankingLoss temperature (sentence-transformers' default)
SEED = 7
# Fewer entries with two or more questions give too few in-batch negatives to learn from.
MIN_ENTRIES = 20
ADAPTER_FILE = "adapter.npy"


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


@dataclass(frozen=True)
class Adapter:
    """``normalize(x @ matrix)``; the identity when ``matrix`` is None."""

    matrix: np.ndarray | None = None

    @property
    def trained(self) -> bool:
        return self.matrix is not None

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.asarray(vectors, dtype=np.float32)
        if self.matrix is None or vectors.size == 0:
            return np.ascontiguousarray(vectors, dtype=np.float32)
        return _normalize(np.atleast_2d(vectors) @ self.matrix).reshape(vectors.shape)

    def save(self, directory: Path) -> None:
        path = directory / ADAPTER_FILE
        if self.matrix is not None:
            np.save(path, self.matrix)
        elif path.exists():
            path.unlink()

    @classmethod
    def load(cls, directory: Path) -> Adapter:
        path = directory / ADAPTER_FILE
        return cls(np.load(path) if path.is_file() else None)


def pair_entries(row_entry: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(entries with >= 2 rows, their first row, their row count); rows grouped by entry."""
    if len(row_entry) == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    entries, starts, counts = np.unique(row_entry, return_index=True, return_counts=True)
    keep = counts >= 2
    return entries[keep], starts[keep].astype(np.int64), counts[keep].astype(np.int64)


def train_adapter(vectors: np.ndarray, row_entry: np.ndarray, *, steps: int = STEPS,
                  batch: int = BATCH, learning_rate: float = LEARNING_RATE,
                  scale: float = SCALE, seed: int = SEED, min_entries: int = MIN_ENTRIES,
                  cancel: Callable[[], None] | None = None) -> Adapter:
    """Fit ``W`` on the question vectors (rows grouped by entry); identity if too few entries.

    Every step draws up to ``batch`` entries, and from each two different questions (anchor,
    positive); the loss is the symmetric cross-entropy of the scaled cosine matrix against the
    diagonal. Seeded, so the same KB gives the same adapter. ``cancel`` is called every few
    steps and may raise to abandon the training (the service is shutting down).
    """
    _, starts, counts = pair_entries(np.asarray(row_entry))
    if len(starts) < min_entries:
        return Adapter(None)
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    dim = x.shape[1]
    weight = torch.nn.Parameter(torch.eye(dim))
    optimizer = torch.optim.Adam([weight], lr=learning_rate)
    size = min(batch, len(starts))
    labels = torch.arange(size)
    for step in range(steps):
        if cancel is not None and step % 20 == 0:
            cancel()
        pick = rng.choice(len(starts), size=size, replace=False)
        first, count = starts[pick], counts[pick]
        i = rng.integers(0, count)
        j = (i + 1 + rng.integers(0, count - 1)) % count  # a different question of the entry
        anchor = torch.nn.functional.normalize(x[torch.from_numpy(first + i)] @ weight, dim=1)
        positive = torch.nn.functional.normalize(x[torch.from_numpy(first + j)] @ weight, dim=1)
        logits = scale * anchor @ positive.T
        loss: Any = (torch.nn.functional.cross_entropy(logits, labels)
                     + torch.nn.functional.cross_entropy(logits.T, labels)) / 2
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return Adapter(weight.detach().numpy().astype(np.float32).copy())
