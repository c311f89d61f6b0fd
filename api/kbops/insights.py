"""What the KB did for cardholders: the unanswered-questions inbox and per-entry statistics.

Both read the gateway's tables: ``kb_events`` (every KB decision of a user turn, query
PII-masked, ``helpful`` from the thumbs), ``messages`` (user turns) and ``handoffs``.

Inbox (active learning)
    Questions the KB did not serve well, within the last ``days``:

    * ``fallback``: the bot did not understand (KB fallback);
    * ``clarify_rejected``: the bot asked "您是不是想问" and the cardholder answered "都不是"
      (a handoff with reason ``clarify_rejected``, or the next user turn is the
      ``/none_of_these`` button / the words 都不是); the sample is the question that was
      clarified;
    * ``low_confidence``: answered with a score below ``KB_INBOX_LOW_CONFIDENCE``;
    * ``thumbs_down``: the cardholder marked the answer not helpful.

    Distinct utterances are embedded with the KB encoder and grouped by meaning
    (:mod:`knowledge_base.search.clustering`), groups ranked by how often they were asked. Questions
    ops already handled (added to an entry, used for a new entry, dismissed) are left out.

Statistics
    Per entry: ``hits`` (answers that used it), ``helpful`` / ``not_helpful`` (thumbs), and
    ``handoffs_after``: answers followed by a handoff request in the same conversation before
    the cardholder sent ``KB_STATS_HANDOFF_TURNS`` + 1 more messages (with the default 1: the
    handoff came with the very next message, or right after it).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Handoff, KBEvent, Message
from knowledge_base.content.drafts import KBInboxResolved
from knowledge_base.content.entries import normalize_question
from knowledge_base.search.clustering import cluster_labels, medoid

NONE_OF_THESE_TEXTS = {"/none_of_these", normalize_question("都不是")}
KINDS = ("fallback", "clarify_rejected", "low_confidence", "thumbs_down")


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass
class InboxItem:
    text: str
    kind: str
    at: datetime | None
    entry_id: str | None = None
    score: float | None = None


@dataclass
class Group:
    key: str
    texts: list[str]
    counts: dict[str, int]
    kinds: Counter[str] = field(default_factory=Counter)
    last_at: datetime | None = None
    representative: str = ""

    @property
    def count(self) -> int:
        return sum(self.counts.values())


def _is_question(text: str) -> bool:
    text = (text or "").strip()
    return bool(text) and not text.startswith("/") and bool(normalize_question(text))


def collect_items(db: Session, *, since: datetime, low_confidence: float) -> list[InboxItem]:
    """Every unanswered-ish question since ``since`` (see the module docstring)."""
    items: list[InboxItem] = []
    events = list(db.scalars(select(KBEvent).where(KBEvent.created_at >= since)
                             .order_by(KBEvent.conversation_id, KBEvent.id)))
    by_conv: dict[str, list[KBEvent]] = defaultdict(list)
    for e in events:
        by_conv[e.conversation_id].append(e)
        kb = (e.details or {}).get("kb") if isinstance(e.details, dict) else None
        picked = isinstance(kb, dict) and bool(kb.get("picked"))
        if not _is_question(e.query):
            continue
        if e.outcome == "fallback":
            items.append(InboxItem(e.query, "fallback", _aware(e.created_at), None, e.score))
        elif (e.outcome == "answered" and not picked and e.score is not None
              and e.score < low_confidence):
            items.append(InboxItem(e.query, "low_confidence", _aware(e.created_at), e.entry_id,
                                   e.score))
        if e.helpful is False:
            items.append(InboxItem(e.query, "thumbs_down", _aware(e.created_at), e.entry_id,
                                   e.score))

    clarify = [e for e in events if e.outcome == "clarify" and _is_question(e.query)]
    if clarify:
        convs = {e.conversation_id for e in clarify}
        handoffs: dict[str, list[datetime]] = defaultdict(list)
        for h in db.scalars(select(Handoff).where(Handoff.conversation_id.in_(convs),
                                                  Handoff.reason == "clarify_rejected")):
            at = _aware(h.requested_at)
            if at is not None:
                handoffs[h.conversation_id].append(at)
        user_msgs: dict[str, list[Message]] = defaultdict(list)
        for m in db.scalars(select(Message).where(Message.conversation_id.in_(convs),
                                                  Message.sender == "user")
                            .order_by(Message.id)):
            user_msgs[m.conversation_id].append(m)
        for e in clarify:
            conv_events = by_conv[e.conversation_id]
            later = [x for x in conv_events if x.id > e.id]
            start = _aware(e.created_at)
            end = _aware(later[0].created_at) if later else None
            rejected = any(start is not None and at >= start and (end is None or at <= end)
                           for at in handoffs.get(e.conversation_id, []))
            if not rejected:
                following = [m for m in user_msgs.get(e.conversation_id, [])
                             if m.id > e.user_message_id]
                if following:
                    first = following[0].text.strip()
                    rejected = first in NONE_OF_THESE_TEXTS or \
                        normalize_question(first) in NONE_OF_THESE_TEXTS
            if rejected:
                items.append(InboxItem(e.query, "clarify_rejected", start, None, e.score))
    return items


def group_items(items: Iterable[InboxItem], resolved: set[str],
                encode: Callable[[list[str]], np.ndarray], max_distance: float,
                max_questions: int) -> tuple[list[Group], int]:
    """Cluster the items' distinct questions by meaning; returns (groups by count, #questions)."""
    texts: dict[str, str] = {}
    counts: Counter[str] = Counter()
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    last: dict[str, datetime] = {}
    for item in items:
        key = normalize_question(item.text)
        if not key or key in resolved:
            continue
        texts.setdefault(key, item.text.strip())
        counts[key] += 1
        kinds[key][item.kind] += 1
        if item.at is not None and (key not in last or item.at > last[key]):
            last[key] = item.at
    keys = [k for k, _ in counts.most_common(max_questions)]
    if not keys:
        return [], 0
    vectors = encode([texts[k] for k in keys])
    labels = cluster_labels(vectors, max_distance)
    members: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        members[label].append(index)
    groups = []
    for indexes in members.values():
        member_keys = [keys[i] for i in indexes]
        center = member_keys[medoid(vectors[indexes])]
        group = Group(
            key=hashlib.sha1("\n".join(sorted(member_keys)).encode()).hexdigest()[:12],
            texts=[texts[k] for k in member_keys],
            counts={texts[k]: counts[k] for k in member_keys},
            representative=texts[center])
        for k in member_keys:
            group.kinds.update(kinds[k])
            if k in last and (group.last_at is None or last[k] > group.last_at):
                group.last_at = last[k]
        groups.append(group)
    groups.sort(key=lambda g: (-g.count, -(g.last_at.timestamp() if g.last_at else 0)))
    return groups, len(keys)


def resolved_keys(kb_db: Session) -> set[str]:
    return set(kb_db.scalars(select(KBInboxResolved.key)))


def mark_resolved(kb_db: Session, texts: Iterable[str], resolution: str, entry_id: str | None,
                  actor: str) -> int:
    """Remember handled questions so they leave the inbox (the caller commits)."""
    count = 0
    for text in texts:
        key = normalize_question(text)[:255]
        if not key:
            continue
        row = kb_db.get(KBInboxResolved, key)
        if row is None:
            kb_db.add(KBInboxResolved(key=key, text=text.strip(), resolution=resolution,
                                      entry_id=entry_id, actor=actor))
        else:
            row.resolution, row.entry_id, row.actor = resolution, entry_id, actor
            row.at = datetime.now(UTC)
        count += 1
    return count


# ---------------------------------------------------------------------------- statistics


@dataclass
class EntryStats:
    entry_id: str
    hits: int = 0
    helpful: int = 0
    not_helpful: int = 0
    handoffs_after: int = 0
    last_hit_at: datetime | None = None


def entry_stats(db: Session, *, since: datetime, handoff_turns: int,
                entry_id: str | None = None) -> dict[str, EntryStats]:
    """Per-entry hits, thumbs and handoffs right after the answer, since ``since``."""
    stmt = select(KBEvent).where(KBEvent.created_at >= since, KBEvent.outcome == "answered",
                                 KBEvent.entry_id.is_not(None))
    if entry_id is not None:
        stmt = stmt.where(KBEvent.entry_id == entry_id)
    events = list(db.scalars(stmt.order_by(KBEvent.id)))
    stats: dict[str, EntryStats] = {}
    for e in events:
        s = stats.setdefault(str(e.entry_id), EntryStats(str(e.entry_id)))
        s.hits += 1
        s.helpful += e.helpful is True
        s.not_helpful += e.helpful is False
        at = _aware(e.created_at)
        if at is not None and (s.last_hit_at is None or at > s.last_hit_at):
            s.last_hit_at = at
    if not events:
        return stats
    convs = {e.conversation_id for e in events}
    requests: dict[str, list[datetime]] = defaultdict(list)
    for h in db.scalars(select(Handoff).where(Handoff.conversation_id.in_(convs),
                                              Handoff.requested_at >= since)):
        at = _aware(h.requested_at)
        if at is not None:
            requests[h.conversation_id].append(at)
    if not requests:
        return stats
    turns: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    for m in db.scalars(select(Message).where(Message.conversation_id.in_(set(requests)),
                                              Message.sender == "user").order_by(Message.id)):
        at = _aware(m.created_at)
        if at is not None:
            turns[m.conversation_id].append((m.id, at))
    for e in events:
        times = requests.get(e.conversation_id)
        if not times:
            continue
        start = _aware(e.created_at)
        after = [at for mid, at in turns.get(e.conversation_id, []) if mid > e.user_message_id]
        end = after[handoff_turns] if len(after) > handoff_turns else None
        if start is not None and any(t >= start and (end is None or t < end) for t in times):
            stats[str(e.entry_id)].handoffs_after += 1
    return stats


def since_days(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def group_public(group: Group, suggestion: dict[str, Any] | None) -> dict[str, Any]:
    samples = sorted(group.counts.items(), key=lambda kv: -kv[1])
    return {"key": group.key, "count": group.count,
            "kinds": {k: group.kinds.get(k, 0) for k in KINDS if group.kinds.get(k)},
            "representative": group.representative,
            "samples": [{"text": t, "count": c} for t, c in samples[:5]],
            "texts": [t for t, _ in samples], "last_at": group.last_at,
            "suggestion": suggestion}
