"""Adapter to the shipped retrieval: builds it through `knowledge_base`'s own functions and
searches it exactly as the service does (`KnowledgeService.search_snapshot`).

- The seed KB (`knowledge_base/seed`) for the held-out benchmark: `snapshot.build_artifacts` over
  the published entries, with the NLU out-of-scope examples for calibration, as `load_snapshot`
  does, but in memory (no database, no cache directory written).
- A CCB set for the CCB benchmark: every paraphrase group becomes an entry (first question as
  the standard question, the second - on CCB-287 - as a similar one, the group's answer as the
  answer) and every distractor an entry of its own. CCB entries have fewer similar questions than
  our KB requires, so they are created without validation (`model_construct`). When the shipped
  calibration cannot be fitted on such entries (CCB-full has no similar questions at all), a
  neutral calibration is used: it changes the decision, never the ranking measured here.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, Skip

logger = logging.getLogger(__name__)

CHANNEL = "web"


@dataclass(frozen=True)
class SearchResult:
    """What the shipped policy returns for one query."""

    decision: str
    entry_ids: list[str]
    score: float
    corrected_query: str | None = None  # the text searched after typo correction, if changed
    confidence: float = 0.0  # p_answer of the decision (team-data model)
    real_confidence: float | None = None  # p_answer of the real-language model, if any
    combined_confidence: float | None = None  # p_answer of the combined model that decides
    query_normalized: str | None = None  # query understanding's text (None: field absent)


def _settings() -> Any:
    try:
        from api.core.config import get_settings
    except ImportError as exc:
        raise Skip(f"api.core.config not importable: {exc}") from exc
    return get_settings().kb_config()  # the knowledge layer's own config


def _abs(path: Path) -> Path:
    return path if path.is_absolute() else REPO_ROOT / path


def model_dir() -> Path:
    """The embedding model the service is configured with (EMBEDDING_MODEL_DIR)."""
    try:
        from knowledge_base.search.service import resolve_model_dir
    except ImportError as exc:
        raise Skip(f"shipped retrieval not importable: {exc}") from exc
    path = _abs(Path(resolve_model_dir(_settings())))
    if not (path / "modules.json").is_file():
        raise Skip(f"no embedding model at {path} (run `make model`)")
    return path


def pair_encoder() -> Any:
    """The encoder of the shipped retrieval."""
    from knowledge_base.search.encoder import load_encoder

    return load_encoder(model_dir())


class ShippedRetrieval:
    """A snapshot built by `knowledge_base.search.snapshot.build_artifacts`, searched by the
    service."""

    def __init__(self, entries: list[Any], oos: list[str], *, neutral_ok: bool = False,
                 bank_names: str | None = None) -> None:
        try:
            from knowledge_base.search.encoder import load_encoder
            from knowledge_base.search.service import KnowledgeService
            from knowledge_base.search.snapshot import Snapshot, build_artifacts
        except ImportError as exc:
            raise Skip(f"shipped retrieval not importable: {exc}") from exc
        self.model_dir = model_dir()
        encoder = load_encoder(self.model_dir)
        self.calibration_note = "shipped calibration"
        try:
            artifacts = build_artifacts(entries, encoder, oos)
        except Exception as exc:  # noqa: BLE001 - only tolerated for CCB ranking (see above)
            if not neutral_ok:
                raise
            logger.warning("calibration failed on benchmark entries (%s); neutral one used", exc)
            artifacts = _artifacts_without_calibration(entries, encoder)
            self.calibration_note = f"neutral calibration ({type(exc).__name__})"
        self.snapshot = Snapshot(0, list(entries), artifacts, encoder, Path("/nonexistent"))
        settings = _settings()
        if bank_names is not None:  # the bank whose KB this is (query understanding)
            settings = dataclasses.replace(settings, bank_names=bank_names)
        self.service = KnowledgeService(settings)
        self.ids = [e.id for e in entries]

    def search(self, text: str, top_k: int, today: date | None = None) -> SearchResult:
        """Decision and ranked entry ids, through the live search code (on ``today``)."""
        res = self.service.search_snapshot(self.snapshot, text, channel=CHANNEL, top_k=top_k,
                                           today=today or date.today())
        hits = res.get("hits") or []
        return SearchResult(
            decision=str(res.get("decision")),
            entry_ids=[h["entry_id"] for h in hits],
            score=float(hits[0]["score"]) if hits else 0.0,
            corrected_query=res.get("corrected_query"),
            confidence=float((res.get("confidence") or {}).get("answer", 0.0)),
            real_confidence=(res.get("confidence") or {}).get("real_answer"),
            combined_confidence=(res.get("confidence") or {}).get("combined_answer"),
            query_normalized=res.get("query_normalized"),
        )

    def describe(self) -> str:
        """Model, index kind, size and thresholds, for the report."""
        a = self.snapshot.artifacts
        cal = a.calibration
        english = self.service.english_calibration  # English models (english_cal.py), if any
        shown = self.model_dir
        if shown.is_relative_to(REPO_ROOT):
            shown = shown.relative_to(REPO_ROOT)
        return (
            f"model {shown}, "
            f"{len(self.ids)} entries / {len(a.questions)} questions, index {a.index.kind}, "
            f"{self.calibration_note} (answer p ≥ {cal.t_answer:.3f}, "
            f"clarify p ≥ {cal.t_clarify:.3f}"
            + (f"; real-language answer p ≥ {cal.real.t_answer:.3f}, clarify p ≥ "
               f"{cal.real.t_clarify:.3f}" if cal.real is not None else "; no real-language "
               "models")
            + (f"; deciding: combined model, answer p ≥ {cal.combined.t_answer:.3f}, clarify "
               f"p ≥ {cal.combined.t_clarify:.3f}" if cal.combined is not None
               else "; deciding: either model")
            + (f"; English queries also: answer p ≥ {english.models.t_answer:.3f}, clarify p ≥ "
               f"{english.models.t_clarify:.3f}" if english is not None else "; no English "
               "models") + ")"
        )


def _artifacts_without_calibration(entries: list[Any], encoder: Any) -> Any:
    """Artifacts as build_artifacts makes them, with a neutral (never-answer) calibration."""
    from knowledge_base.search.adapter import train_adapter
    from knowledge_base.search.index import VectorIndex
    from knowledge_base.search.retrieval import FEATURES, Calibration, Logistic
    from knowledge_base.search.snapshot import Artifacts, passage_text, question_rows

    questions, row_entry = question_rows(entries)
    qvecs = encoder.encode(questions)
    pvecs = encoder.encode_passages([passage_text(e) for e in entries])
    flat = Logistic([0.0] * len(FEATURES), [1.0] * len(FEATURES), [0.0] * len(FEATURES), 0.0)
    calibration = Calibration(flat, flat, 1.01, 1.01, {"note": "neutral (benchmark)"})
    adapter = train_adapter(qvecs, row_entry, blocks=encoder.blocks)
    index = VectorIndex.build(adapter.searchable(adapter.apply(qvecs)))
    return Artifacts(questions, row_entry, qvecs, pvecs, index, calibration,
                     [[] for _ in entries], adapter)


def seed_retrieval() -> ShippedRetrieval:
    """The shipped retrieval over the published seed KB."""
    try:
        from knowledge_base.content.entries import load_seed
        from knowledge_base.search.retrieval import load_out_of_scope
        from knowledge_base.search.service import NLU_DIR
    except ImportError as exc:
        raise Skip(f"shipped retrieval not importable: {exc}") from exc
    settings = _settings()
    entries = [e for e in load_seed(_abs(Path(settings.kb_seed_dir))) if e.status == "published"]
    return ShippedRetrieval(entries, load_out_of_scope(NLU_DIR))


def ccb_entries(rs: Any) -> list[Any]:
    """KB entries for a CCB set (unvalidated: CCB groups have few similar questions)."""
    from knowledge_base.content.entries import CHANNELS, Answer, Entry

    questions: list[list[str]] = [[] for _ in range(rs.n_entries)]
    for doc, e in zip(rs.docs, rs.doc_entry, strict=True):
        questions[e].append(doc)
    out = []
    for e, qs in enumerate(questions):
        answer = Answer.model_construct(text=rs.entry_answer[e] or qs[0], buttons=[], links=[],
                                        image=None)
        out.append(Entry.model_construct(
            id=f"ccb-{e:05d}", category="ccb", question=qs[0], similar=qs[1:], answer=answer,
            tags=[], channels=list(CHANNELS), valid_from=None, valid_to=None,
            status="published"))
    return out


def rank_entries(rs: Any, top_k: int) -> tuple[list[list[int]], dict[str, Any]]:
    """Ranked entry numbers per query of a CCB set, from the shipped search."""
    import time

    from knowledge_base.search.retrieval import load_out_of_scope
    from knowledge_base.search.service import NLU_DIR

    t0 = time.perf_counter()
    retrieval = ShippedRetrieval(ccb_entries(rs), load_out_of_scope(NLU_DIR), neutral_ok=True)
    index_s = time.perf_counter() - t0
    number = {entry_id: i for i, entry_id in enumerate(retrieval.ids)}
    ranked = [[number[i] for i in retrieval.search(q, top_k).entry_ids] for q in rs.queries]
    return ranked, {"index_s": index_s, "note": retrieval.describe()}
