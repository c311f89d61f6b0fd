"""The ops console's use of the running retrieval service (knowledge_base.search.service).

(Publishing to the bot is `knowledge_base.search.reloader`.)

* **Hit test.** The same query runs against the live snapshot and against a snapshot of the
  drafts, both through the service's own search and decision code. The draft snapshot uses
  the live calibration (the current thresholds); publishing recalibrates on the new content.
* **Conflict check.** A question whose nearest question (cosine) belongs to another entry
  rather than to its own is reported.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np

from api.core.config import Settings
from knowledge_base.content.entries import Entry, content_hash
from knowledge_base.search.adapter import first_block
from knowledge_base.search.embedcache import EmbeddingCache, embedding_cache
from knowledge_base.search.encoder import Encoder, load_encoder
from knowledge_base.search.service import KBNotReady, KnowledgeService
from knowledge_base.search.snapshot import (
    Snapshot,
    derived_artifacts,
    model_fingerprint,
    question_rows,
)

logger = logging.getLogger(__name__)

WOULD = {
    "answer": "直接回答：{question}",
    "clarify": "反问“您是不是想问”，列出前 3 个候选和“都不是”",
    "fallback": "兜底：请客户换个说法（连续两次没听懂则提议转人工）",
}


def _require(kb: KnowledgeService) -> Snapshot:
    snap = kb.snapshot
    if snap is None:
        raise KBNotReady("the retrieval service is still loading")
    return snap


@lru_cache(maxsize=4)
def _fingerprint(model_dir: str) -> str:
    return model_fingerprint(Path(model_dir))


def _cache(kb: KnowledgeService, settings: Settings) -> EmbeddingCache:
    """The embedding cache of the service's encoder (the same process-wide model instance;
    loaded here if the service has not loaded it yet)."""
    snap = kb.snapshot
    encoder = snap.encoder if snap is not None else load_encoder(settings.embedding_model_dir)
    return embedding_cache(settings.index_dir, encoder,
                           _fingerprint(str(settings.embedding_model_dir)))


# ---------------------------------------------------------------------------- draft snapshot

_DRAFTS: OrderedDict[tuple[str, int], Snapshot] = OrderedDict()
_DRAFTS_LOCK = threading.Lock()


def entry_vectors(cache: EmbeddingCache, entries: Sequence[Entry]
                  ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(questions, row -> entry index, question vectors), rows grouped by entry."""
    questions, rows = question_rows(entries)
    return questions, rows, cache.encode(questions)


def draft_snapshot(kb: KnowledgeService, entries: Sequence[Entry],
                   settings: Settings) -> Snapshot:
    """A snapshot of the working copy (published-status entries), with the live calibration."""
    live = _require(kb)
    published = [e for e in entries if e.status == "published"]
    key = (content_hash(published), live.release)
    with _DRAFTS_LOCK:
        if key in _DRAFTS:
            _DRAFTS.move_to_end(key)
            return _DRAFTS[key]
    cache = _cache(kb, settings)
    # Drafts reuse the live adapter and calibration: retraining them per keystroke would cost
    # seconds, and a publish retrains both.
    artifacts = derived_artifacts(published, cast(Encoder, cache), live.artifacts)
    snap = Snapshot(0, published, artifacts, live.encoder, live.directory)
    cache.save()
    with _DRAFTS_LOCK:
        _DRAFTS[key] = snap
        while len(_DRAFTS) > 3:
            _DRAFTS.popitem(last=False)
    return snap


def _side(result: dict[str, Any], release: int | None) -> dict[str, Any]:
    hits = result.get("hits") or []
    decision = result["decision"]
    would = WOULD[decision].format(question=hits[0]["question"] if hits else "")
    return {"release": release, "decision": decision, "would": would,
            "thresholds": result.get("thresholds") or {},
            "confidence": result.get("confidence"),
            "hits": [{k: h[k] for k in ("entry_id", "question", "matched_question",
                                         "category", "score")} for h in hits]}


def hit_test(kb: KnowledgeService, query: str, channel: str, top_k: int,
             draft_entries: Sequence[Entry] | None, settings: Settings, *,
             pending: int) -> dict[str, Any]:
    """What the bot does with ``query`` now (live) and after publishing the drafts."""
    live = _require(kb)
    live_result = kb.search_snapshot(live, query, channel=channel, top_k=top_k)
    if draft_entries is None:
        draft_result = live_result
    else:
        draft = draft_snapshot(kb, draft_entries, settings)
        draft_result = kb.search_snapshot(draft, query, channel=channel, top_k=top_k)
    return {"query": query, "live": _side(live_result, live.release),
            "draft": _side(draft_result, None), "pending_drafts": pending}


# ---------------------------------------------------------------------------- conflicts


def conflicts(kb: KnowledgeService, content: dict[str, Entry], entry_ids: Sequence[str],
              settings: Settings) -> dict[str, Any]:
    """Questions of ``entry_ids`` whose nearest question belongs to another entry."""
    active = [e for e in content.values() if e.status == "published"]
    targets = {i for i in entry_ids if i in content and content[i].status == "published"}
    if not targets or len(active) < 2:
        return {"items": [], "checked_questions": 0}
    # Raw encoder vectors on purpose: the adapter was trained to pull each KB question toward
    # its own entry, so in its space a misplaced question would look fine.
    questions, rows, qvecs = entry_vectors(_cache(kb, settings), active)
    _cache(kb, settings).save()
    target_rows = np.array([r for r in range(len(questions)) if active[rows[r]].id in targets])
    sims = qvecs[target_rows] @ qvecs.T
    margin = settings.kb_conflict_margin
    items = []
    for i, r in enumerate(target_rows):
        own_entry = rows[r]
        row_sims = sims[i].copy()
        row_sims[r] = -np.inf
        own_mask = rows == own_entry
        own_best = int(np.argmax(np.where(own_mask, row_sims, -np.inf)))
        own = float(row_sims[own_best]) if np.isfinite(row_sims[own_best]) else None
        other_best = int(np.argmax(np.where(own_mask, -np.inf, row_sims)))
        other = float(row_sims[other_best])
        if own is not None and other <= own + margin:
            continue
        entry, rival = active[own_entry], active[rows[other_best]]
        own_q = questions[own_best] if own is not None else None
        own_text = (f"本条目最接近的是“{own_q}”（{own:.3f}）" if own is not None
                    else "本条目没有别的问法")
        items.append({
            "entry_id": entry.id, "question": questions[r], "own_score": own,
            "own_question": own_q, "other_entry_id": rival.id,
            "other_question": questions[other_best], "other_score": round(other, 4),
            "message": (f"条目 {entry.id} 的问题“{questions[r]}”更接近条目 {rival.id} 的"
                        f"“{questions[other_best]}”（{other:.3f}），{own_text}。"
                        "机器人可能会答成别的条目，建议改写或删除这个问法。")})
    items.sort(key=lambda c: (c["entry_id"], -c["other_score"]))
    return {"items": items, "checked_questions": len(target_rows)}


# ---------------------------------------------------------------------------- inbox


def encode(kb: KnowledgeService, texts: Sequence[str], settings: Settings) -> np.ndarray:
    """Vectors of cardholder questions (memory-cached)."""
    return _cache(kb, settings).encode_adhoc(texts)


def cluster_vectors(kb: KnowledgeService, texts: Sequence[str], settings: Settings) -> np.ndarray:
    """e5 vectors of cardholder questions for grouping the inbox: the cluster distance
    (KB_INBOX_CLUSTER_DISTANCE) is a cosine distance in e5's narrow band, where paraphrases sit
    at 0.93-0.99; the fused vector's second model spreads far wider."""
    cache = _cache(kb, settings)
    return first_block(cache.encode_adhoc(texts), cache.blocks)


def suggest(kb: KnowledgeService, text: str, settings: Settings) -> dict[str, Any] | None:
    """The live entry nearest to ``text`` (any channel), as a hit."""
    snap = kb.snapshot
    if snap is None or not snap.entries:
        return None
    vector = snap.query_vectors(encode(kb, [text], settings))[0]
    ids = snap.search_rows(vector, min(64, len(snap.artifacts.questions)))
    live = np.zeros(len(snap.entries), bool)
    today = date.today()
    for channel in ("web", "app", "wechat"):
        live |= snap.live(channel, today)
    found = list(dict.fromkeys(int(snap.artifacts.row_entry[r]) for r in ids
                               if r >= 0 and live[int(snap.artifacts.row_entry[r])]))
    if not found:
        return None
    best = snap.scorer.score_entries(vector, found)[0]
    entry = snap.entries[best.entry_index]
    return {"entry_id": entry.id, "question": entry.question, "category": entry.category,
            "matched_question": snap.artifacts.questions[best.matched_row],
            "score": round(best.score, 4)}
