"""A linear adapter that fits the frozen encoder to this KB's own paraphrases.

Each entry's standard and similar questions are paraphrases of one another, so they are
training pairs. Instead of fine-tuning the transformer (minutes per epoch on 2 cores, and it
hurt out-of-scope separation, see README), we learn one ``dim x dim`` matrix ``W`` on top of the
frozen embeddings with the MultipleNegativesRankingLoss objective (in-batch negatives, both
directions): paraphrases of one entry move together, other entries' questions move apart.
Training works on cached vectors only, so it takes seconds and runs on every index build.

Vectors are mapped as ``normalize(x @ W)``; an adapter without a matrix is the identity (for a
single-block encoder; with blocks it keeps the first block only, see ``Adapter.apply``).
With the product's two-model encoder the vector has one block per model
(:class:`~knowledge_base.search.encoder.Block`): each block gets its own matrix (``W`` is block
diagonal, trained block by block) and is normalised and weighted on its own, so the fused
similarity keeps its meaning after the adapter.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
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
BLOCKS_FILE = "adapter_blocks.json"
Blocks = tuple[tuple[int, int, float], ...]  # (start, stop, weight) per encoder block


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def block_spans(blocks: Sequence[Any] | None, dim: int) -> Blocks:
    """(start, stop, weight) of each block; one block of weight 1 when ``blocks`` is None.

    Accepts :class:`~knowledge_base.search.encoder.Block` objects or tuples."""
    if not blocks:
        return ((0, dim, 1.0),)
    spans = tuple((int(b[0]), int(b[1]), float(b[2])) if isinstance(b, (tuple, list))
                  else (int(b.start), int(b.stop), float(b.weight)) for b in blocks)
    if spans[0][0] != 0 or spans[-1][1] != dim or any(
            a[1] != b[0] for a, b in zip(spans, spans[1:], strict=False)):
        raise ValueError(f"blocks {spans} do not tile a {dim}-d vector")
    return spans


def first_block(vectors: np.ndarray, blocks: Sequence[Any] | None) -> np.ndarray:
    """The first encoder block (e5) of raw vectors, unit length; the vectors themselves when
    there is a single block."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if not blocks or len(blocks) == 1:
        return vectors
    start, stop, _ = block_spans(blocks, vectors.shape[-1])[0]
    if vectors.size == 0:
        return np.zeros((*vectors.shape[:-1], stop - start), np.float32)
    return _normalize(np.atleast_2d(vectors)[:, start:stop]).reshape(
        (*vectors.shape[:-1], stop - start))


@dataclass(frozen=True)
class Adapter:
    """``normalize(x @ matrix)`` per block, each block scaled by ``sqrt(weight)``. Without a
    matrix (too few paraphrases to train one) it keeps the first block only (``primary``)."""

    matrix: np.ndarray | None = None
    blocks: Blocks | None = None

    @property
    def trained(self) -> bool:
        return self.matrix is not None

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.asarray(vectors, dtype=np.float32)
        if self.matrix is None:
            # Without paraphrase pairs to adapt it, the second encoder hurts (CCB-full, one
            # question per entry: hit@1 0.445 with e5 alone, 0.361 fused), so only e5 is used.
            return np.ascontiguousarray(self.primary(vectors), dtype=np.float32)
        if vectors.size == 0:
            return np.ascontiguousarray(vectors, dtype=np.float32)
        mapped = np.atleast_2d(vectors) @ self.matrix
        spans = block_spans(self.blocks, mapped.shape[1])
        if len(spans) == 1:
            return _normalize(mapped).reshape(vectors.shape)
        for start, stop, weight in spans:
            mapped[:, start:stop] = _normalize(mapped[:, start:stop]) * np.sqrt(weight)
        return np.ascontiguousarray(mapped, dtype=np.float32).reshape(vectors.shape)

    def primary(self, vectors: np.ndarray) -> np.ndarray:
        """The first block of raw encoder vectors (e5), unit length: the decision's raw-cosine
        feature uses e5 alone, which keeps off-topic messages apart better than the fused
        cosine (calibration answered 74 % vs 43 % of in-scope queries at the same cap)."""
        return first_block(vectors, self.blocks)

    def searchable(self, adapted: np.ndarray) -> np.ndarray:
        """The part of adapted vectors the FAISS index holds: the first (e5) block. Candidates
        come from it and are rescored exactly with the whole vector, so the index keeps the
        384 dimensions the scale benchmark measures."""
        if self.matrix is None or not self.blocks or len(self.blocks) == 1:
            return adapted
        start, stop, _ = self.blocks[0]
        return np.ascontiguousarray(np.asarray(adapted)[..., start:stop], dtype=np.float32)

    def save(self, directory: Path) -> None:
        path, blocks = directory / ADAPTER_FILE, directory / BLOCKS_FILE
        if self.matrix is not None:
            np.save(path, self.matrix)
        else:
            path.unlink(missing_ok=True)
        if self.blocks:
            blocks.write_text(json.dumps(self.blocks), encoding="utf-8")
        else:
            blocks.unlink(missing_ok=True)

    @classmethod
    def load(cls, directory: Path) -> Adapter:
        path, blocks = directory / ADAPTER_FILE, directory / BLOCKS_FILE
        spans = json.loads(blocks.read_text(encoding="utf-8")) if blocks.is_file() else None
        return cls(np.load(path) if path.is_file() else None,
                   tuple((int(a), int(b), float(w)) for a, b, w in spans) if spans else None)


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
                  cancel: Callable[[], None] | None = None,
                  blocks: Sequence[Any] | None = None) -> Adapter:
    """Fit ``W`` on the question vectors (rows grouped by entry); identity if too few entries.

    With ``blocks`` (the encoder's), one matrix per block is fitted on that block alone.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    spans = block_spans(blocks, vectors.shape[1])
    kept = spans if len(spans) > 1 else None
    _, starts, _ = pair_entries(np.asarray(row_entry))
    if len(starts) < min_entries:
        return Adapter(None, kept)
    matrix = np.zeros((vectors.shape[1], vectors.shape[1]), np.float32)
    for start, stop, _weight in spans:
        matrix[start:stop, start:stop] = _train_matrix(
            vectors[:, start:stop], row_entry, steps=steps, batch=batch,
            learning_rate=learning_rate, scale=scale, seed=seed, cancel=cancel)
    return Adapter(matrix, kept)


def _train_matrix(vectors: np.ndarray, row_entry: np.ndarray, *, steps: int, batch: int,
                  learning_rate: float, scale: float, seed: int,
                  cancel: Callable[[], None] | None) -> np.ndarray:
    """One block's matrix (the loop described in :func:`train_adapter`).

    Every step draws up to ``batch`` entries, and from each two different questions (anchor,
    positive); the loss is the symmetric cross-entropy of the scaled cosine matrix against the
    diagonal. Seeded, so the same KB gives the same adapter. ``cancel`` is called every few
    steps and may raise to abandon the training (the service is shutting down).
    """
    _, starts, counts = pair_entries(np.asarray(row_entry))
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
    return weight.detach().numpy().astype(np.float32).copy()
