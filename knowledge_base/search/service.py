"""KnowledgeService: loads the current KB release in the background and answers searches.

The live state is one immutable :class:`Snapshot`; a reload builds the next one aside and
swaps the reference, so queries in flight finish on the old snapshot and none is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np

from knowledge_base.config import KBConfig
from knowledge_base.content.entries import Entry
from knowledge_base.content.store import ensure_seed, entries_at
from knowledge_base.db import sessions
from knowledge_base.search.embedcache import caching_encoder, remember_build
from knowledge_base.search.encoder import load_encoder
from knowledge_base.search.english_cal import EnglishCalibration, load_english_calibration
from knowledge_base.search.query import QueryConfig, Understanding, other_issuer_note, understand
from knowledge_base.search.retrieval import (
    CLARIFY_K,
    ScoredEntry,
    asks_a_kb_question,
    features,
    load_out_of_scope,
)
from knowledge_base.search.snapshot import (
    RELATED_MAX,
    Snapshot,
    cached_directory,
    derived_artifacts,
    load_or_build,
    model_fingerprint,
)

logger = logging.getLogger(__name__)

NLU_DIR = Path(__file__).resolve().parents[2] / "nlu_data" / "nlu"
State = Literal["loading", "up", "down"]


class KBNotReady(RuntimeError):
    """The snapshot is still loading, or loading failed."""


class UnknownEntry(KeyError):
    """No entry with that id in the live release."""


def resolve_model_dir(settings: KBConfig) -> Path:
    """The embedding model the service uses."""
    return settings.embedding_model_dir


# A publish that adds at most this many new questions (or this share of the live ones) is served
# at once with the live adapter and calibration, then rebuilt in full (the adapter is retrained
# and recalibrated: seconds that would otherwise delay the release reaching the bot).
MAX_SUB_QUESTIONS = 2  # other questions of one message looked up for an "also asked" offer
QUICK_MAX_NEW = 50
QUICK_MAX_NEW_SHARE = 0.05

# One build at a time per process: several services starting together (tests, reloads) wait
# for the first build and then reuse its cache directory instead of encoding in parallel.
_BUILD_LOCK = threading.Lock()


class Cancelled(RuntimeError):
    """A snapshot load was stopped: the service closed, or a newer release superseded it."""


class _Stop:
    """Stop signal of one build: the service closed, or a newer release superseded it."""

    def __init__(self, closed: threading.Event, stale: Callable[[], bool] | None) -> None:
        self.closed, self.stale = closed, stale

    def is_set(self) -> bool:
        return self.closed.is_set() or (self.stale is not None and self.stale())


def load_snapshot(settings: KBConfig, progress: Any = None, nlu_dir: Path = NLU_DIR,
                  cancel: threading.Event | _Stop | None = None,
                  release: tuple[int, list[Entry]] | None = None) -> tuple[Snapshot, bool]:
    """Import the seed if needed, then load (or build) the current release's snapshot
    (``release``: its number and entries, when the caller has read them already)."""

    def check() -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled("knowledge service closed, or a newer release is waiting")

    number, entries = release or release_entries(settings)
    model_dir = resolve_model_dir(settings)
    oos = load_out_of_scope(nlu_dir)
    with _BUILD_LOCK:
        check()
        encoder = load_encoder(model_dir)
        check()
        model_fp = model_fingerprint(model_dir)
        # Ops publishes rebuild incrementally: texts encoded before come from embedcache.
        artifacts, directory, built = load_or_build(
            settings.index_dir, entries, caching_encoder(settings.index_dir, encoder, model_fp),
            model_fp, oos, progress, cancel=check)
        remember_build(settings.index_dir, encoder, model_fp, entries, artifacts)
    return Snapshot(number, entries, artifacts, encoder, directory), built


def release_entries(settings: KBConfig) -> tuple[int, list[Entry]]:
    """The current release number and its published entries (the seed imported if needed)."""
    with sessions(settings.database_url)() as session:
        release = ensure_seed(session, settings.kb_seed_dir)
        return release.number, [e for e in entries_at(session, release.number)
                                if e.status == "published"]


def quick_snapshot(settings: KBConfig, live: Snapshot, nlu_dir: Path = NLU_DIR,
                   release: tuple[int, list[Entry]] | None = None) -> Snapshot | None:
    """The current release with the live adapter and calibration, when that is worth it.

    None when the release is already live, its full artifacts are cached (loading them is as
    fast), there is no trained adapter to reuse, or the change is too large for the old adapter
    and thresholds to stand in (a bulk import)."""
    number, entries = release or release_entries(settings)
    if number == live.release or not live.artifacts.adapter.trained or not entries:
        return None
    model_dir = resolve_model_dir(settings)
    model_fp = model_fingerprint(model_dir)
    if Path(live.encoder.model_dir).resolve() != model_dir.resolve() or cached_directory(
            settings.index_dir, entries, model_fp, load_out_of_scope(nlu_dir)) is not None:
        return None
    known = set(live.artifacts.questions)
    new = sum(q not in known for e in entries for q in e.search_questions)
    if new > max(QUICK_MAX_NEW, QUICK_MAX_NEW_SHARE * len(known)):
        return None
    encoder = caching_encoder(settings.index_dir, live.encoder, model_fp)
    artifacts = derived_artifacts(entries, encoder, live.artifacts)
    return Snapshot(number, entries, artifacts, live.encoder, live.directory)


class KnowledgeService:
    """Retrieval over the live KB release."""

    def __init__(self, settings: KBConfig, nlu_dir: Path = NLU_DIR) -> None:
        self._settings = settings
        self._nlu_dir = nlu_dir
        self._snapshot: Snapshot | None = None
        self._state: State = "loading"
        self._error: str | None = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._reload_lock = threading.Lock()
        self._swap_listeners: list[Callable[[Snapshot], None]] = []
        self._query_config = QueryConfig.from_settings(getattr(settings, "bank_names", ""),
                                                       getattr(settings, "other_issuers", ""))
        # English questions are decided with models fitted on English too (english_cal.py);
        # None (file missing): the Chinese models decide alone.
        self._english = load_english_calibration()

    # ------------------------------------------------------------------ lifecycle

    def start_background(self) -> None:
        """Load model and index in a daemon thread; status() reports progress."""
        if self._thread is not None:
            return
        self._state = "loading"
        self._thread = threading.Thread(target=self._load, name="kb-loader", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        started = time.monotonic()
        try:
            self.reload()
        except Cancelled:
            logger.info("knowledge base load abandoned: service closed")
            return
        except Exception as exc:  # any failure must surface as "down", not kill the app
            logger.exception("knowledge base failed to load")
            self._error = f"{type(exc).__name__}: {exc}"
            self._state = "down"
            return
        logger.info("knowledge base up in %.1f s (release %s)", time.monotonic() - started,
                    self._snapshot.release if self._snapshot else None)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def reload(self, stale: Callable[[], bool] | None = None) -> Snapshot:
        """Build the current release's snapshot aside, then swap it in atomically.

        ``stale()`` true means a newer release is waiting: the full build is abandoned
        (Cancelled) so that release is not held up behind it (e.g. a rollback right after a
        publish); the quick snapshot, if any, keeps serving meanwhile."""
        with self._reload_lock:
            # One read of the release, so the quick and the full snapshot serve the same one.
            release = release_entries(self._settings)
            live = self._snapshot
            if live is not None:
                try:
                    quick = quick_snapshot(self._settings, live, self._nlu_dir, release)
                except Exception:  # the full build below still runs and reports errors
                    logger.exception("quick swap failed; waiting for the full build")
                    quick = None
                if quick is not None and not self._closed.is_set():
                    self._swap(quick)
                    logger.info("release %s served with the previous adapter; rebuilding",
                                quick.release)
            snapshot, _ = load_snapshot(self._settings, nlu_dir=self._nlu_dir,
                                        cancel=_Stop(self._closed, stale), release=release)
            if self._closed.is_set():
                return snapshot
            self._error = None
            self._state = "up"
            self._swap(snapshot)
            return snapshot

    def add_swap_listener(self, listener: Callable[[Snapshot], None]) -> None:
        """Call ``listener(snapshot)`` (from the loading thread) whenever a snapshot goes live."""
        self._swap_listeners.append(listener)

    def _swap(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        for listener in list(self._swap_listeners):
            try:
                listener(snapshot)
            except Exception:  # a listener must never stop the swap
                logger.exception("snapshot swap listener failed")

    def wait_ready(self, timeout: float) -> bool:
        """Block until loading has finished (tests, CLI); True when up."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._state == "up"

    def close(self, wait: float = 30.0) -> None:
        """Stop using the snapshot; a load still running is cancelled and waited for up to
        ``wait`` seconds (a daemon thread killed inside torch at exit aborts the process)."""
        self._closed.set()
        self._snapshot = None
        self._state = "down"
        self._error = "closed"
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(wait)

    def status(self) -> dict[str, Any]:
        snap = self._snapshot
        body: dict[str, Any] = {"state": self._state}
        if snap is not None:
            body.update(release=snap.release, entries=len(snap.entries),
                        index=snap.artifacts.index.kind)
        if self._error and self._state != "up":
            body["error"] = self._error
        return body

    @property
    def english_calibration(self) -> EnglishCalibration | None:
        """The English decision models applied to English queries (None: not committed)."""
        return self._english

    @property
    def snapshot(self) -> Snapshot | None:
        """The snapshot serving queries right now (None while loading)."""
        return self._snapshot

    def search_snapshot(self, snap: Snapshot, query: str, *, channel: str = "web",
                        top_k: int = 5, today: date | None = None) -> dict[str, Any]:
        """Search any snapshot with the live logic (the ops console's draft hit test)."""
        return self._by_query(snap, query, channel, top_k, today or date.today())

    def _require(self) -> Snapshot:
        snap = self._snapshot
        if snap is None:
            raise KBNotReady(self._error if self._state == "down" else "loading")
        return snap

    # ------------------------------------------------------------------ search

    def search(self, query: str | None = None, *, entry_id: str | None = None,
               channel: str = "web", top_k: int = 5, today: date | None = None
               ) -> dict[str, Any]:
        """Search by text, or fetch one entry by id. Raises KBNotReady / UnknownEntry."""
        snap = self._require()
        today = today or date.today()
        if entry_id is not None:
            return self._by_id(snap, entry_id, channel, today)
        if query is None:
            raise ValueError("query or entry_id is required")
        return self._by_query(snap, query, channel, top_k, today)

    def _by_id(self, snap: Snapshot, entry_id: str, channel: str, today: date) -> dict[str, Any]:
        idx = snap.by_id.get(entry_id)
        if idx is None:
            raise UnknownEntry(entry_id)
        live = snap.live(channel, today)
        cal = snap.artifacts.calibration
        hits = []
        if live[idx]:
            entry = snap.entries[idx]
            hits.append(self._hit(snap, ScoredEntry(idx, 1.0, 1.0, -1), live,
                                  matched=entry.question))
        return {"decision": "answer" if hits else "fallback", "release": snap.release,
                "thresholds": {"answer": cal.t_answer, "clarify": cal.t_clarify},
                "hits": hits}

    def _by_query(self, snap: Snapshot, query: str, channel: str, top_k: int,
                  today: date) -> dict[str, Any]:
        # Query understanding first (bank names, filler, the main question of several), then
        # typo correction; the text as typed still counts as a KB question.
        meaning = understand(query, self._query_config)
        result = self._decide(snap, query, meaning.normalized, channel, top_k, today)
        result["query_normalized"] = meaning.normalized if meaning.changed else None
        result["other_issuer"] = _other_issuer(meaning)
        subs = []
        main_id = result["hits"][0]["entry_id"] if result["hits"] else None
        searches = meaning.sub_searches or meaning.sub_questions
        for sub, searched in list(zip(meaning.sub_questions, searches,
                                      strict=True))[:MAX_SUB_QUESTIONS]:
            found = self._decide(snap, sub, searched, channel, 2, today)
            # A sub-question searched with the first question's topic may find the main entry
            # again: offer the next one (the main answer is already there).
            others = [h for h in found["hits"] if h["entry_id"] != main_id]
            top = others[0] if others and found["decision"] != "fallback" else None
            subs.append({"text": sub, "entry_id": top["entry_id"] if top else None,
                         "question": top["question"] if top else None})
        result["sub_questions"] = subs
        return result

    def _decide(self, snap: Snapshot, query: str, searched: str, channel: str, top_k: int,
                today: date) -> dict[str, Any]:
        text = snap.corrector.correct(searched)
        corrected = text if text != searched else None
        vector, raw = snap.encode_query(text)
        live = snap.live(channel, today)
        scored = self._candidates(snap, vector, live, max(top_k, CLARIFY_K) + 1, raw)
        cal = snap.artifacts.calibration
        thresholds = cal.thresholds()
        if self._english is not None:
            thresholds.update(self._english.thresholds())
        if not scored:
            return {"decision": "fallback", "corrected_query": corrected,
                    "release": snap.release, "thresholds": thresholds,
                    "confidence": {"answer": 0.0, "scope": 0.0}, "hits": []}
        feats = features(text, scored[:CLARIFY_K], snap.artifacts.questions)
        probs = cal.probabilities(feats)
        decision = cal.decide_probabilities(probs)
        if self._english is not None:
            decision, english = self._english.decide(query, feats, decision)
            probs.update(english)
        top_questions = snap.entries[scored[0].entry_index].search_questions
        if decision != "answer" and any(asks_a_kb_question(q, top_questions)
                                        for q in {query, searched, text}):
            decision = "answer"
        return {
            "decision": decision,
            "corrected_query": corrected,
            "release": snap.release,
            "thresholds": thresholds,
            "confidence": {k: round(v, 4) for k, v in probs.items()},
            "hits": [self._hit(snap, h, live) for h in scored[:top_k]],
        }

    def explain(self, snap: Snapshot, query: str, *, channel: str = "web",
                today: date | None = None) -> tuple[np.ndarray, list[int]]:
        """Decision features and ranked entry indexes of a query, after query understanding
        and typo correction, as the live search computes them (calibration, benchmarks)."""
        text = snap.corrector.correct(understand(query, self._query_config).normalized)
        vector, raw = snap.encode_query(text)
        scored = self._candidates(snap, vector, snap.live(channel, today or date.today()),
                                  CLARIFY_K + 1, raw)
        return (features(text, scored[:CLARIFY_K], snap.artifacts.questions),
                [h.entry_index for h in scored])

    @staticmethod
    def _candidates(snap: Snapshot, vector: np.ndarray, live: np.ndarray,
                    wanted: int, raw: np.ndarray | None = None) -> list[ScoredEntry]:
        """Live entries near the query, rescored exactly; widens the FAISS search until enough
        live entries are found (filters can hide many of the nearest rows)."""
        n_rows = len(snap.artifacts.index)
        row_entry = snap.artifacts.row_entry
        total_live = int(live.sum())
        k = min(n_rows, max(64, wanted * 12))
        while True:
            ids = snap.search_rows(vector, k)
            found: list[int] = []
            seen: set[int] = set()
            for row in ids:
                if row < 0:
                    continue
                e = int(row_entry[row])
                if e not in seen and live[e]:
                    seen.add(e)
                    found.append(e)
            if len(found) >= min(wanted, total_live) or k >= n_rows:
                break
            k = min(n_rows, k * 4)
        return snap.scorer.score_entries(vector, found, raw)

    @staticmethod
    def _hit(snap: Snapshot, hit: ScoredEntry, live: np.ndarray,
             matched: str | None = None) -> dict[str, Any]:
        entry = snap.entries[hit.entry_index]
        linked = {snap.by_id.get(i) for i in _linked_entries(entry)}
        related = _live_related([j for j in snap.artifacts.related[hit.entry_index]
                                 if j not in linked], live)
        return {
            "entry_id": entry.id,
            "question": entry.question,
            "category": entry.category,
            "score": round(hit.score, 4),
            "matched_question": matched or snap.artifacts.questions[hit.matched_row],
            "answer": entry.answer.served(snap.question_en_of),
            "answer_en": entry.answer_en,
            "question_en": entry.question_en,
            "related": [{"entry_id": snap.entries[j].id, "question": snap.entries[j].question,
                         "question_en": snap.entries[j].question_en} for j in related],
        }


def _other_issuer(meaning: Understanding) -> dict[str, Any] | None:
    note = other_issuer_note(meaning)
    if meaning.other_issuer is None or note is None:
        return None
    return {"name": meaning.other_issuer, "product": meaning.other_product, "note": note}


def _linked_entries(entry: Entry) -> set[str]:
    """The entries the answer's own buttons already open: not offered again as related."""
    return {t for b in entry.answer.buttons if (t := b.target_entry()) is not None}


def _live_related(pool: Sequence[int], live: np.ndarray) -> list[int]:
    return [j for j in pool if live[j]][:RELATED_MAX]
