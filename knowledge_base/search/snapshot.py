"""A retrieval snapshot: one KB release with its vectors, index, calibration and related entries.

Artifacts are cached under ``index_dir/<key>/`` where the key hashes the release content, the
model and the calibration data, so an unchanged KB reuses its index and any change rebuilds it.
A directory is written aside and renamed into place, so readers never see a partial one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_base.content.entries import Entry, content_hash
from knowledge_base.search.adapter import Adapter, train_adapter
from knowledge_base.search.encoder import Encoder, encoding_signature
from knowledge_base.search.index import VectorIndex
from knowledge_base.search.realcal import load_real_language
from knowledge_base.search.retrieval import (
    CALIBRATION_SEED,
    MAX_CALIBRATION_QUERIES,
    Calibration,
    EntryScorer,
    RealLanguage,
    calibrate,
)
from knowledge_base.search.spelling import TermCorrector, build_corrector

logger = logging.getLogger(__name__)

# Bump when the artifact layout or the scoring changes: old cache directories are then ignored.
# 6: an entry's question_en is a question row (Entry.search_questions).
ARTIFACT_VERSION = 6
RELATED_MAX = 3
DEV_SHARE = 4  # one in this many similar questions of an entry is held back for calibration
MIN_DEV_QUERIES = 30
RELATED_POOL = 12  # neighbours kept per entry, so channel/date filters still leave three
MANIFEST = "manifest.json"
ProgressFactory = Callable[..., Any]


def model_fingerprint(model_dir: Path) -> str:
    """Identity of a model and of how we encode with it: the encoding settings plus the model's
    build marker when present, else all of its bytes."""
    digest = hashlib.sha256(encoding_signature().encode())
    markers = sorted(model_dir.glob("*_source.json"))
    if markers:
        for marker in markers:
            digest.update(marker.read_bytes())
        return digest.hexdigest()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(model_dir)).encode())
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def cache_key(kb_hash: str, model_fp: str, oos: Sequence[str]) -> str:
    # The calibration part covers the out-of-scope examples and the committed real-language
    # models (realcal.py): a changed calibration.json rebuilds the index.
    real = load_real_language()
    oos_hash = hashlib.sha256("\n".join([*oos, real.fingerprint if real else ""]).encode()
                              ).hexdigest()
    return f"kb-{kb_hash[:16]}-model-{model_fp[:12]}-cal-{oos_hash[:8]}-v{ARTIFACT_VERSION}"


def passage_text(entry: Entry) -> str:
    return f"{entry.question}\n{entry.answer.text}"


@dataclass
class Artifacts:
    """Everything derived from (entries, model) that is worth caching.

    ``qvecs``/``pvecs`` are the encoder's raw vectors (the embedding cache keeps them); the
    index, the scorer and queries use them mapped through ``adapter``.
    """

    questions: list[str]
    row_entry: np.ndarray
    qvecs: np.ndarray
    pvecs: np.ndarray
    index: VectorIndex
    calibration: Calibration
    related: list[list[int]]
    adapter: Adapter = field(default_factory=Adapter)

    def save(self, directory: Path, manifest: dict[str, Any]) -> None:
        np.save(directory / "questions.npy", self.qvecs)
        np.save(directory / "passages.npy", self.pvecs)
        np.save(directory / "row_entry.npy", self.row_entry)
        (directory / "rows.json").write_text(json.dumps(self.questions, ensure_ascii=False),
                                             encoding="utf-8")
        (directory / "related.json").write_text(json.dumps(self.related), encoding="utf-8")
        (directory / "calibration.json").write_text(
            json.dumps(self.calibration.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
        self.index.save(directory)
        self.adapter.save(directory)
        # The manifest is written last: its presence marks a complete directory.
        (directory / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> Artifacts:
        return cls(
            questions=json.loads((directory / "rows.json").read_text(encoding="utf-8")),
            row_entry=np.load(directory / "row_entry.npy"),
            qvecs=np.load(directory / "questions.npy"),
            pvecs=np.load(directory / "passages.npy"),
            index=VectorIndex.load(directory),
            calibration=Calibration.from_json(
                json.loads((directory / "calibration.json").read_text(encoding="utf-8"))),
            related=json.loads((directory / "related.json").read_text(encoding="utf-8")),
            adapter=Adapter.load(directory),
        )


def compute_related(entries: Sequence[Entry], qvecs: np.ndarray,
                    row_entry: np.ndarray) -> list[list[int]]:
    """Per entry, up to RELATED_POOL nearest other entries by question centroid; entries of the
    same category come first (a cardholder reading about 分期 most likely asks more 分期)."""
    n = len(entries)
    if n == 0:
        return []
    centroids = np.zeros((n, qvecs.shape[1]), np.float32)
    np.add.at(centroids, row_entry, qvecs)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12
    sims = centroids @ centroids.T
    np.fill_diagonal(sims, -np.inf)
    related = []
    for i in range(n):
        nearest = [int(j) for j in np.argsort(-sims[i])[: min(RELATED_POOL * 3, n - 1)]]
        same = [j for j in nearest if entries[j].category == entries[i].category]
        other = [j for j in nearest if entries[j].category != entries[i].category]
        related.append((same + other)[:RELATED_POOL])
    return related


def question_rows(entries: Sequence[Entry]) -> tuple[list[str], np.ndarray]:
    """Every entry's searchable questions (``Entry.search_questions``: standard first, English
    title last) and the entry index of each row; rows are grouped by entry, as EntryScorer
    needs."""
    per_entry = [entry.search_questions for entry in entries]
    questions = [q for qs in per_entry for q in qs]
    rows = np.repeat(np.arange(len(entries), dtype=np.int64), [len(qs) for qs in per_entry])
    return questions, rows


def title_rows(entries: Sequence[Entry]) -> np.ndarray:
    """Mask over ``question_rows``: True for the English title rows (``question_en``). Like the
    standard question they are never held back for calibration: with them out of the draw, the
    Chinese calibration queries are the ones drawn before English titles were indexed."""
    mask: list[bool] = []
    for entry in entries:
        own = len(entry.questions)
        mask += [False] * own + [True] * (len(entry.search_questions) - own)
    return np.asarray(mask, bool)


def build_artifacts(entries: Sequence[Entry], encoder: Encoder, oos: Sequence[str],
                    progress: ProgressFactory | None = None,
                    cancel: Callable[[], None] | None = None,
                    real: RealLanguage | None | bool = True) -> Artifacts:
    """Encode, index, calibrate and relate the given (published) entries (``real``: the
    real-language models; True = the committed ones, None = team data only)."""
    real_models = load_real_language() if real is True else (real or None)
    questions, rows = question_rows(entries)
    texts = questions + list(oos)
    vecs = _encode_chunked(encoder.encode, texts, progress, cancel)
    qvecs, oos_vecs = vecs[: len(questions)], vecs[len(questions):]
    pvecs = _encode_chunked(encoder.encode_passages, [passage_text(e) for e in entries],
                            progress, cancel)
    adapter = train_adapter(qvecs, rows, cancel=cancel, blocks=encoder.blocks)
    aq = adapter.apply(qvecs)
    index = VectorIndex.build(adapter.searchable(aq))
    if cancel is not None:
        cancel()
    calibration = _calibrate(questions, rows, qvecs, pvecs, list(oos), oos_vecs, adapter, cancel,
                             real_models, title_rows(entries))
    return Artifacts(questions, rows, qvecs, pvecs, index, calibration,
                     compute_related(entries, aq, rows), adapter)


def derived_artifacts(entries: Sequence[Entry], encoder: Encoder, base: Artifacts) -> Artifacts:
    """Artifacts for ``entries`` that reuse ``base``'s adapter and calibration.

    For the ops console's draft hit test and for serving a small publish at once: only new
    texts are encoded (with a caching encoder), nothing is trained."""
    questions, rows = question_rows(entries)
    qvecs = encoder.encode(questions)
    pvecs = encoder.encode_passages([passage_text(e) for e in entries])
    aq = base.adapter.apply(qvecs)
    return Artifacts(questions, rows, qvecs, pvecs, VectorIndex.build(base.adapter.searchable(aq)),
                     base.calibration,
                     compute_related(entries, aq, rows), base.adapter)


def cached_directory(index_root: Path, entries: Sequence[Entry], model_fp: str,
                     oos: Sequence[str]) -> Path | None:
    """The complete cache directory of these artifacts, if one was built."""
    directory = index_root / cache_key(content_hash(entries), model_fp, oos)
    return directory if (directory / MANIFEST).is_file() else None


def dev_rows(row_entry: np.ndarray, seed: int = CALIBRATION_SEED,
             titles: np.ndarray | None = None) -> np.ndarray:
    """Similar questions held back for calibration: a quarter of each entry's similar
    questions (entries with at least 4), never the standard question nor a ``titles`` row."""
    rng = np.random.default_rng(seed)
    out: list[int] = []
    for start, count in zip(*np.unique(row_entry, return_index=True, return_counts=True)[1:],
                            strict=True):
        similar = np.arange(start + 1, start + count)
        if titles is not None:
            similar = similar[~titles[similar]]
        take = len(similar) // DEV_SHARE
        if take:
            out.extend(int(r) for r in rng.choice(similar, take, replace=False))
    return np.sort(np.asarray(out, np.int64))


def _calibrate(questions: list[str], rows: np.ndarray, qvecs: np.ndarray, pvecs: np.ndarray,
               oos: list[str], oos_vecs: np.ndarray, adapter: Adapter,
               cancel: Callable[[], None] | None = None,
               real: RealLanguage | None = None,
               titles: np.ndarray | None = None) -> Calibration:
    """Calibrate on queries the adapter never saw.

    With a trained adapter, a second adapter is fitted without the held-back similar
    questions (``dev_rows``), which then query the rest of the KB: the served adapter has
    seen every KB question, so leave-one-out through it would be overconfident. Without an
    adapter (small KBs), every similar question queries the KB with only itself left out.
    """
    dev = dev_rows(rows, titles=titles) if adapter.trained else np.zeros(0, np.int64)
    if len(dev) >= MIN_DEV_QUERIES:
        keep = np.ones(len(rows), bool)
        keep[dev] = False
        held = train_adapter(qvecs[keep], rows[keep], cancel=cancel, blocks=adapter.blocks)
        scorer = EntryScorer(held.apply(qvecs[keep]), rows[keep], held.apply(pvecs),
                             held.primary(qvecs[keep]))
        kept_questions = [q for q, k in zip(questions, keep, strict=True) if k]
        return calibrate([questions[r] for r in dev], held.apply(qvecs[dev]), rows[dev], None,
                         oos, held.apply(oos_vecs), scorer, kept_questions,
                         held.primary(qvecs[dev]), held.primary(oos_vecs), real)
    scorer = EntryScorer(adapter.apply(qvecs), rows, adapter.apply(pvecs), adapter.primary(qvecs))
    # Leave-one-out: every similar question (not the standard one) queries the KB without itself.
    loo = np.array([r for r in range(len(questions))
                    if r > 0 and rows[r] == rows[r - 1]
                    and not (titles is not None and titles[r])], np.int64)
    if len(loo) > MAX_CALIBRATION_QUERIES:
        rng = np.random.default_rng(CALIBRATION_SEED)
        loo = np.sort(rng.choice(loo, MAX_CALIBRATION_QUERIES, replace=False))
    return calibrate([questions[r] for r in loo], adapter.apply(qvecs[loo]), rows[loo], loo,
                     oos, adapter.apply(oos_vecs), scorer, questions,
                     adapter.primary(qvecs[loo]), adapter.primary(oos_vecs), real)


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def update(self, _n: int) -> None:
        return None


def _encode_chunked(encode: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str],
                    progress: ProgressFactory | None,
                    cancel: Callable[[], None] | None) -> np.ndarray:
    """Encode in chunks, so a progress bar moves and a closing service can stop the build."""
    chunks = [encode([])]
    step = 64
    bar = progress(total=len(texts), desc="编码问题 / encoding", unit="q") if progress else _NoBar()
    with bar:
        for start in range(0, len(texts), step):
            if cancel is not None:
                cancel()
            chunks.append(encode(texts[start : start + step]))
            bar.update(min(step, len(texts) - start))
    return np.concatenate(chunks)


def load_or_build(index_root: Path, entries: Sequence[Entry], encoder: Encoder, model_fp: str,
                  oos: Sequence[str], progress: ProgressFactory | None = None,
                  cancel: Callable[[], None] | None = None) -> tuple[Artifacts, Path, bool]:
    """Artifacts for ``entries`` from the cache, building them when absent.

    Returns (artifacts, directory, built?).
    """
    kb_hash = content_hash(entries)
    key = cache_key(kb_hash, model_fp, oos)
    directory = index_root / key
    if (directory / MANIFEST).is_file():
        try:
            return Artifacts.load(directory), directory, False
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("index cache %s is unusable (%s); rebuilding", directory, exc)
    start = time.monotonic()
    artifacts = build_artifacts(entries, encoder, oos, progress, cancel)
    index_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=index_root, prefix=f".{key}-"))
    try:
        manifest = {"kb_content_hash": kb_hash, "model_fingerprint": model_fp,
                    "model_dir": str(encoder.model_dir), "entries": len(entries),
                    "rows": len(artifacts.questions), "index_kind": artifacts.index.kind,
                    "artifact_version": ARTIFACT_VERSION, "oos_examples": len(oos),
                    "build_seconds": round(time.monotonic() - start, 1)}
        artifacts.save(staging, manifest)
        for path in [staging, *staging.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        if directory.exists():
            shutil.rmtree(directory)  # an incomplete leftover (no manifest)
        os.replace(staging, directory)
    except OSError:
        if (directory / MANIFEST).is_file():
            # Another process finished the same build first; its result is identical.
            shutil.rmtree(staging, ignore_errors=True)
        else:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    logger.info("built KB index %s in %.1f s", directory, time.monotonic() - start)
    return artifacts, directory, True


@dataclass
class Snapshot:
    """What a query needs, swapped as one object when a new release goes live."""

    release: int
    entries: list[Entry]
    artifacts: Artifacts
    encoder: Encoder
    directory: Path
    by_id: dict[str, int] = field(init=False)
    scorer: EntryScorer = field(init=False)
    corrector: TermCorrector = field(init=False)
    _live_cache: dict[tuple[str, date], np.ndarray] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {e.id: i for i, e in enumerate(self.entries)}
        a = self.artifacts
        self.scorer = EntryScorer(a.adapter.apply(a.qvecs), a.row_entry,
                                  a.adapter.apply(a.pvecs), a.adapter.primary(a.qvecs))
        self.corrector = build_corrector(e.question for e in self.entries)

    def question_en_of(self, entry_id: str) -> str | None:
        """The English title of an entry of this release (None: unknown, or it has none)."""
        index = self.by_id.get(entry_id)
        return self.entries[index].question_en if index is not None else None

    def query_vectors(self, raw: np.ndarray) -> np.ndarray:
        """Encoder vectors mapped into this snapshot's (adapted) space."""
        return self.artifacts.adapter.apply(raw)

    def search_rows(self, vector: np.ndarray, k: int) -> np.ndarray:
        """Row ids of the ``k`` nearest questions to an adapted query vector (-1 pads)."""
        _, ids = self.artifacts.index.search(self.artifacts.adapter.searchable(vector), k)
        return np.asarray(ids[0])

    def encode_query(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(search vector, raw e5 vector) of one query (see ``Adapter.primary``)."""
        raw = self.encoder.encode([text])
        return self.query_vectors(raw)[0], self.artifacts.adapter.primary(raw)[0]

    def live(self, channel: str, today: date) -> np.ndarray:
        """Mask of entries offered on ``channel`` today (cached per channel and day)."""
        key = (channel, today)
        mask = self._live_cache.get(key)
        if mask is None:
            mask = np.array([e.is_live(channel, today) for e in self.entries], bool)
            if len(self._live_cache) > 16:
                self._live_cache.clear()
            self._live_cache[key] = mask
        return mask
