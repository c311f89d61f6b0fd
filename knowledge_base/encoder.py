"""Sentence encoder over the converted e5 model (offline, one instance per model directory)."""

from __future__ import annotations

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
        """Vectors of answer passages (e5 ``passage:`` prompt), unit length."""
        return self._encode(texts, PASSAGE_PROMPT_NAME, batch_size, False)

    def _encode(self, texts: Sequence[str], prompt_name: str, batch_size: int,
                show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                list(texts), prompt_name=prompt_name, batch_size=batch_size,
                normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=show_progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)


@lru_cache(maxsize=4)
def _load(resolved: str) -> Encoder:
    return Encoder(Path(resolved))


def load_encoder(model_dir: Path | str) -> Encoder:
    """The process-wide encoder of ``model_dir`` (loaded on first use, ~4 s)."""
    return _load(str(Path(model_dir).resolve()))
