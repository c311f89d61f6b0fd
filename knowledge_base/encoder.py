"""Sentence encoder over the converted e5 model (offline, one instance per model directory)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# e5 is asymmetric; our KB matches question to question, so both sides use the query prompt.
PROMPT_NAME = "query"
PASSAGE_PROMPT_NAME = "passage"
# Answer passages are cut at 64 tokens (question + start of the answer): leave-one-out accuracy
# is the same as with 512 (hit@1 0.586 vs 0.587) and encoding takes half the time.
PASSAGE_MAX_TOKENS = 64
# Part of the model fingerprint, so cached vectors are rebuilt when the encoding changes.
ENCODING_SIGNATURE = f"query-prompt=query;passage-prompt=passage;passage-max={PASSAGE_MAX_TOKENS}"


class Encoder:
    """Encode texts into L2-normalised float32 vectors."""

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
        # Fast tokenizers raise "Already borrowed" when one instance is used by two threads.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, batch_size: int = 64,
               show_progress: bool = False) -> np.ndarray:
        """Question vectors of shape (len(texts), dim), unit length."""
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


def _limit_torch_threads() -> None:
    """One intra-op thread unless OMP_NUM_THREADS says otherwise.

    On our shared 2-core machines two torch threads spin against other processes: a single
    query took 200-700 ms with two threads and 43 ms with one, and batches were faster with one
    too. Concurrent requests still use both cores (one request per thread)."""
    if "OMP_NUM_THREADS" not in os.environ:
        import torch

        torch.set_num_threads(1)


@lru_cache(maxsize=4)
def _load(resolved: str) -> Encoder:
    _limit_torch_threads()
    return Encoder(Path(resolved))


_LOAD_LOCK = threading.Lock()


def load_encoder(model_dir: Path | str) -> Encoder:
    """The process-wide encoder of ``model_dir`` (loaded on first use, ~4 s)."""
    # lru_cache alone would let two threads that miss together load the model twice.
    with _LOAD_LOCK:
        return _load(str(Path(model_dir).resolve()))
