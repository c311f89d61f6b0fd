"""Vectors of texts the KB already encoded, so a publish only encodes what changed.

A rebuild after an ops publish encodes every question, passage and calibration example of the
new release. With this cache (a drop-in for :class:`~knowledge_base.search.encoder.Encoder`) only
texts never seen before reach the model: a one-entry edit encodes a handful of sentences and
the new index is ready in seconds. Question and passage vectors are persisted next to the
index (``INDEX_DIR/embeddings-<model>.npz``, keyed by a hash of prompt kind + text), so a
restarted process keeps them; ad-hoc texts (inbox questions) stay in memory only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import numpy as np

from knowledge_base.search.encoder import Encoder

if TYPE_CHECKING:
    from knowledge_base.content.entries import Entry
    from knowledge_base.search.snapshot import Artifacts

logger = logging.getLogger(__name__)

Kind = Literal["query", "passage", "adhoc"]
PERSISTED: tuple[Kind, ...] = ("query", "passage")
MAX_ITEMS = 200_000


def _key(kind: Kind, text: str) -> str:
    return hashlib.sha1(f"{kind}\0{text}".encode()).hexdigest()


class EmbeddingCache:
    """Encoder with a memory of every vector it produced (same ``encode`` interface)."""

    def __init__(self, encoder: Encoder, path: Path | None, max_items: int = MAX_ITEMS) -> None:
        self.encoder = encoder
        self.model_dir = encoder.model_dir
        self.dim = encoder.dim
        self.blocks = encoder.blocks
        self.path = path
        self.max_items = max_items
        self.hits = 0
        self.misses = 0
        self._vectors: dict[str, np.ndarray] = {}
        self._persist: set[str] = set()
        self._dirty = False
        self._lock = threading.Lock()
        if path is not None and path.is_file():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            with np.load(path) as data:
                keys, vectors = data["keys"], data["vectors"]
            if vectors.ndim != 2 or vectors.shape[1] != self.dim or len(keys) != len(vectors):
                raise ValueError(f"shape {vectors.shape} does not fit dimension {self.dim}")
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("embedding cache %s unusable (%s); starting empty", path, exc)
            return
        for key, vector in zip(keys.tolist(), vectors, strict=True):
            self._vectors[str(key)] = vector
            self._persist.add(str(key))
        logger.info("embedding cache: %d vectors from %s", len(keys), path)

    def __len__(self) -> int:
        return len(self._vectors)

    # ------------------------------------------------------------------ Encoder interface

    def encode(self, texts: Sequence[str], *, batch_size: int = 64,
               show_progress: bool = False) -> np.ndarray:
        return self._get("query", texts, lambda t: self.encoder.encode(
            t, batch_size=batch_size, show_progress=show_progress))

    def encode_passages(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        return self._get("passage", texts,
                         lambda t: self.encoder.encode_passages(t, batch_size=batch_size))

    def encode_adhoc(self, texts: Sequence[str]) -> np.ndarray:
        """Query-prompt vectors of texts that are not KB content (kept in memory only)."""
        return self._get("adhoc", texts, self.encoder.encode)

    # ------------------------------------------------------------------ cache

    def _get(self, kind: Kind, texts: Sequence[str],
             encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        keys = [_key(kind, t) for t in texts]
        with self._lock:
            missing: dict[str, str] = {}
            for key, text in zip(keys, texts, strict=True):
                if key not in self._vectors:
                    missing.setdefault(key, text)
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            # The encoder serialises itself; encoding outside our lock keeps lookups fast.
            vectors = encode(list(missing.values()))
            self._store(kind, list(missing), vectors)
        with self._lock:
            return np.stack([self._vectors[k] for k in keys]).astype(np.float32, copy=False)

    def _store(self, kind: Kind, keys: Sequence[str], vectors: np.ndarray) -> None:
        with self._lock:
            for key, vector in zip(keys, vectors, strict=True):
                self._vectors[key] = np.asarray(vector, dtype=np.float32)
                if kind in PERSISTED:
                    self._persist.add(key)
                    self._dirty = True
            overflow = len(self._vectors) - self.max_items
            if overflow > 0:  # forget the oldest
                for key in list(self._vectors)[:overflow]:
                    del self._vectors[key]
                    self._persist.discard(key)

    def absorb(self, kind: Kind, texts: Iterable[str], vectors: np.ndarray) -> None:
        """Remember vectors computed elsewhere (e.g. loaded with a cached index)."""
        texts = list(texts)
        if len(texts) != len(vectors):
            raise ValueError("texts and vectors differ in length")
        with self._lock:
            fresh = [(k, v) for k, v in zip((_key(kind, t) for t in texts), vectors, strict=True)
                     if k not in self._vectors]
        if fresh:
            self._store(kind, [k for k, _ in fresh], np.asarray([v for _, v in fresh]))

    def save(self) -> None:
        """Write the persisted kinds next to the index (atomic replace; no-op if unchanged)."""
        if self.path is None:
            return
        with self._lock:
            if not self._dirty:
                return
            keys = [k for k in self._vectors if k in self._persist]
            vectors = (np.stack([self._vectors[k] for k in keys]) if keys
                       else np.zeros((0, self.dim), np.float32))
            self._dirty = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".embeddings-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, keys=np.asarray(keys, dtype="U40"), vectors=vectors)
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except OSError as exc:
            logger.warning("could not save the embedding cache to %s: %s", self.path, exc)
            Path(tmp).unlink(missing_ok=True)


_CACHES: dict[tuple[str, int, str], EmbeddingCache] = {}
_CACHES_LOCK = threading.Lock()


def embedding_cache(index_dir: Path, encoder: Encoder, model_fp: str) -> EmbeddingCache:
    """The process-wide cache of ``encoder``'s vectors, persisted under ``index_dir``."""
    key = (str(Path(index_dir).resolve()), id(encoder), model_fp)
    with _CACHES_LOCK:
        cache = _CACHES.get(key)
        if cache is None or cache.encoder is not encoder:
            cache = EmbeddingCache(encoder, Path(key[0]) / f"embeddings-{model_fp[:12]}.npz")
            _CACHES[key] = cache
        return cache


def caching_encoder(index_dir: Path, encoder: Encoder, model_fp: str) -> Encoder:
    """``encoder`` behind the process-wide cache, typed as the encoder it stands in for."""
    return cast(Encoder, embedding_cache(index_dir, encoder, model_fp))


def remember_build(index_dir: Path, encoder: Encoder, model_fp: str, entries: Sequence[Entry],
                   artifacts: Artifacts) -> None:
    """After a snapshot was loaded or built: keep its vectors for the next (incremental) build
    and persist the cache."""
    from knowledge_base.search.snapshot import passage_text

    cache = embedding_cache(index_dir, encoder, model_fp)
    cache.absorb("query", artifacts.questions, artifacts.qvecs)
    cache.absorb("passage", [passage_text(e) for e in entries], artifacts.pvecs)
    cache.save()
