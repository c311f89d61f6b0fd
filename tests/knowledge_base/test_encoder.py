"""The product encoder: e5 and USE vectors, weighted and concatenated, and its fingerprint."""

from __future__ import annotations

import importlib.metadata
import json
from importlib.metadata import PackageNotFoundError
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.search import encoder as encoder_mod
from knowledge_base.search import snapshot as snapshot_mod
from knowledge_base.search.adapter import block_spans
from knowledge_base.search.encoder import (
    SECOND_MODEL,
    SECOND_WEIGHT,
    Block,
    UseEncoder,
    encoding_signature,
    load_e5,
    load_encoder,
)
from knowledge_base.search.snapshot import model_fingerprint

PAIRS = [("信用卡丢了怎么办", "我的卡不见了要怎么挂失"),
         ("怎么修改账单日", "账单日可以改吗"),
         ("额度可以提高吗", "积分多久过期"),
         ("境外刷卡收手续费吗", "今天天气怎么样")]
TEXTS = [text for pair in PAIRS for text in pair]


@pytest.fixture(scope="module")
def use_encoder() -> UseEncoder:
    """The process-wide USE model (the one load_encoder also uses)."""
    return encoder_mod._load_use()


def norms(vectors: np.ndarray) -> np.ndarray:
    return np.linalg.norm(vectors.astype(np.float64), axis=-1)


@pytest.mark.slow
def test_fused_similarity_is_the_weighted_mean_of_both_cosines(
        e5_model_dir: Path, use_encoder: UseEncoder) -> None:
    fused, e5 = load_encoder(e5_model_dir), load_e5(e5_model_dir)
    assert fused.e5 is e5 and fused.second is use_encoder  # one instance of each model
    assert (e5.dim, fused.dim) == (384, 896)
    vectors = fused.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 896) and vectors.dtype == np.float32
    assert np.allclose(norms(vectors), 1.0, atol=1e-5)

    ev, uv = e5.encode(TEXTS), use_encoder.encode(TEXTS)
    gaps = []
    for i in range(0, len(TEXTS), 2):
        got = float(vectors[i] @ vectors[i + 1])
        cos_e5, cos_use = float(ev[i] @ ev[i + 1]), float(uv[i] @ uv[i + 1])
        want = (cos_e5 + SECOND_WEIGHT * cos_use) / (1 + SECOND_WEIGHT)
        assert got == pytest.approx(want, abs=1e-5), (TEXTS[i], TEXTS[i + 1])
        gaps.append(abs(cos_e5 - cos_use))
    assert max(gaps) > 0.01  # the models disagree, so neither cosine alone would pass

    # the parts of the vector are the two models' own vectors, weighted
    first, second = fused.blocks
    assert np.allclose(vectors[:, first.start:first.stop], ev * np.sqrt(first.weight), atol=1e-6)
    assert np.allclose(vectors[:, second.start:second.stop], uv * np.sqrt(second.weight),
                       atol=1e-6)


@pytest.mark.slow
def test_fused_passages_use_the_e5_passage_prompt(e5_model_dir: Path,
                                                  use_encoder: UseEncoder) -> None:
    fused, e5 = load_encoder(e5_model_dir), load_e5(e5_model_dir)
    texts = ["信用卡丢了怎么办\n请立即致电客服热线挂失，挂失后原卡停止使用。"]
    passages = fused.encode_passages(texts)
    assert passages.shape == (1, 896)
    assert np.allclose(norms(passages), 1.0, atol=1e-5)
    first, second = fused.blocks
    assert np.allclose(passages[:, :first.stop] / np.sqrt(first.weight),
                       e5.encode_passages(texts), atol=1e-5)
    assert not np.allclose(passages[:, :first.stop] / np.sqrt(first.weight),
                           e5.encode(texts), atol=1e-3)  # not the query prompt
    assert np.allclose(passages[:, second.start:] / np.sqrt(second.weight),
                       use_encoder.encode(texts), atol=1e-5)


@pytest.mark.slow
def test_fused_encoder_blocks_and_empty_input(e5_model_dir: Path) -> None:
    fused = load_encoder(e5_model_dir)
    assert fused.blocks == (Block(0, 384, 1 / (1 + SECOND_WEIGHT)),
                            Block(384, 896, SECOND_WEIGHT / (1 + SECOND_WEIGHT)))
    assert sum(b.weight for b in fused.blocks) == pytest.approx(1.0)
    # the blocks tile the vector (the adapter relies on it)
    assert block_spans(fused.blocks, fused.dim) == ((0, 384, 0.5), (384, 896, 0.5))
    assert load_encoder(e5_model_dir) is fused  # cached per model directory
    for empty in (fused.encode([]), fused.encode_passages([])):
        assert empty.shape == (0, 896) and empty.dtype == np.float32


@pytest.mark.slow
def test_use_encoder_is_unit_length_and_batch_independent(use_encoder: UseEncoder) -> None:
    batched = use_encoder.encode(TEXTS)
    assert batched.shape == (len(TEXTS), 512) and batched.dtype == np.float32
    assert batched.flags.c_contiguous
    assert np.allclose(norms(batched), 1.0, atol=1e-5)
    one_by_one = np.vstack([use_encoder.encode([text]) for text in TEXTS])
    assert np.allclose(batched, one_by_one, atol=1e-5)
    small_batches = use_encoder.encode(TEXTS, batch_size=3)  # 3 + 3 + 2
    assert small_batches.shape == batched.shape
    assert np.allclose(small_batches, batched, atol=1e-5)
    # different texts give different vectors
    assert float(batched[0] @ batched[-1]) < 0.99
    empty = use_encoder.encode([])
    assert empty.shape == (0, 512) and empty.dtype == np.float32


def test_encoding_signature_names_the_second_model_version_and_weight() -> None:
    installed = importlib.metadata.version(SECOND_MODEL)
    signature = encoding_signature()
    assert f"second={SECOND_MODEL}-{installed};" in signature
    assert f"second-weight={SECOND_WEIGHT}" in signature
    assert "{" not in signature and "}" not in signature  # the template was filled in


def test_encoding_signature_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert f"second={SECOND_MODEL}-missing;" in encoding_signature()


def test_model_fingerprint_follows_the_encoding_signature(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x_source.json").write_text(json.dumps({"source_sha256": "abc"}))
    (tmp_path / "weights.bin").write_bytes(b"\0" * 16)
    real = model_fingerprint(tmp_path)
    assert model_fingerprint(tmp_path) == real  # stable
    (tmp_path / "weights.bin").write_bytes(b"\1" * 16)
    assert model_fingerprint(tmp_path) == real  # the marker, not the bytes, identifies it

    # a different second-model version or weight (the template the signature is built from)
    monkeypatch.setattr(encoder_mod, "ENCODING_SIGNATURE",
                        encoder_mod.ENCODING_SIGNATURE.replace(
                            f"second-weight={SECOND_WEIGHT}", "second-weight=2.0"))
    assert "second-weight=2.0" in encoding_signature()
    changed = model_fingerprint(tmp_path)
    assert changed != real
    monkeypatch.undo()
    assert model_fingerprint(tmp_path) == real

    monkeypatch.setattr(snapshot_mod, "encoding_signature", lambda: "other-signature")
    other = model_fingerprint(tmp_path)
    assert other not in (real, changed)
    (tmp_path / "x_source.json").write_text(json.dumps({"source_sha256": "def"}))
    assert model_fingerprint(tmp_path) != other  # and the marker still counts


@pytest.mark.slow
def test_concurrent_queries_combined_get_the_vectors_they_would_get_alone(
        e5_model_dir: Path) -> None:
    """Combining concurrent calls (knowledge_base/search/combining.py) pads short questions
    into one batch: each caller still gets its own vector, equal to the one it gets alone."""
    from concurrent.futures import ThreadPoolExecutor

    fused = load_encoder(e5_model_dir)
    alone = np.vstack([fused.encode([t]) for t in TEXTS])
    with ThreadPoolExecutor(len(TEXTS)) as pool:
        together = np.vstack(list(pool.map(lambda t: fused.encode([t]), TEXTS * 3)))
    assert np.allclose(together, np.vstack([alone] * 3), atol=1e-5)
