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
    * ``clarify``: the bot asked "您是不是想问" and the cardholder did not reject it (picked a
      suggestion or moved on): the KB has the answer but not in the words asked;
    * ``low_confidence``: answered, but only just: the decision's confidence was less than
      ``KB_INBOX_CONFIDENCE_MARGIN`` above its calibrated answer threshold (the margin of the
      more confident of the two decision models, team data and real language). Events recorded
      without confidence (before it was logged) fall back to the entry score below
      ``KB_INBOX_LOW_CONFIDENCE``;
    * ``thumbs_down``: the cardholder marked the answer not helpful;
    * ``handoff_after_answer``: answered, then the cardholder asked for a human within
      ``KB_STATS_HANDOFF_TURNS`` + 1 messages.

    Distinct utterances are embedded with the KB encoder and grouped by meaning
    (:mod:`knowledge_base.search.clustering`), groups ranked by how many cardholders they would
    help (distinct users, then distinct conversations, then how often asked). Questions ops
    already handled (added to an entry, used for a new entry, dismissed) are left out.

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

from api.models import Conversation, Handoff, KBEvent, Message
from knowledge_base.content.drafts import KBInboxResolved
from knowledge_base.content.entries import normalize_question
from knowledge_base.search.clustering import cluster_labels, medoid

NONE_OF_THESE_TEXTS = {"/none_of_these", normalize_question("都不是")}
KINDS = ("fallback", "clarify_rejected", "clarify", "low_confidence", "thumbs_down",
         "handoff_after_answer")


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
    conversation_id: str | None = None
    user_id: str | None = None


@dataclass
class Group:
    key: str
    texts: list[str]
    counts: dict[str, int]
    kinds: Counter[str] = field(default_factory=Counter)
    last_at: datetime | None = None
    representative: str = ""
    users: set[str] = field(default_factory=set)
    conversations: set[str] = field(default_factory=set)

    @property
    def count(self) -> int:
        return sum(self.counts.values())


def _is_question(text: str) -> bool:
    text = (text or "").strip()
    return bool(text) and not text.startswith("/") and bool(normalize_question(text))


def confidence_margin(kb: dict[str, Any]) -> float | None:
    """How far the answer's confidence was above its calibrated threshold: the combined
    model's margin (``combined_answer``, the model that decides), or for events recorded before
    it the larger margin of the two older models (team data ``answer``, real language
    ``real_answer``); None when the event carries no confidence."""
    confidence, thresholds = kb.get("confidence"), kb.get("thresholds")
    if not isinstance(confidence, dict) or not isinstance(thresholds, dict):
        return None
    def known(k: str) -> bool:
        return isinstance(confidence.get(k), int | float) and isinstance(thresholds.get(k),
                                                                        int | float)

    # The combined model is the one that decides when present: its margin alone counts.
    keys = ("combined_answer",) if known("combined_answer") else ("answer", "real_answer")
    margins = [float(confidence[k]) - float(thresholds[k]) for k in keys if known(k)]
    return max(margins) if margins else None


def is_low_confidence(event: KBEvent, *, margin: float, legacy_score: float) -> bool:
    """An answer that only just passed its calibrated threshold (see the module docstring)."""
    kb = (event.details or {}).get("kb") if isinstance(event.details, dict) else None
    if not isinstance(kb, dict) or kb.get("picked"):
        return False
    above = confidence_margin(kb)
    if above is not None:
        return above < margin
    return event.score is not None and event.score < legacy_score


def collect_items(db: Session, *, since: datetime, low_confidence: float,
                  confidence_margin: float = 0.1, handoff_turns: int = 1,
                  until: datetime | None = None) -> list[InboxItem]:
    """Every unanswered-ish question since ``since`` (before ``until`` when given; see the
    module docstring); ``low_confidence`` is the legacy score cut for events recorded without
    confidence."""
    items: list[InboxItem] = []
    stmt = select(KBEvent).where(KBEvent.created_at >= since)
    if until is not None:
        stmt = stmt.where(KBEvent.created_at < until)
    events = list(db.scalars(stmt.order_by(KBEvent.conversation_id, KBEvent.id)))
    by_conv: dict[str, list[KBEvent]] = defaultdict(list)
    users = _users(db, {e.conversation_id for e in events})

    def item(e: KBEvent, kind: str, entry_id: str | None = None) -> InboxItem:
        return InboxItem(e.query, kind, _aware(e.created_at), entry_id, e.score,
                         e.conversation_id, users.get(e.conversation_id))

    answered: list[KBEvent] = []
    for e in events:
        by_conv[e.conversation_id].append(e)
        if not _is_question(e.query):
            continue
        if e.outcome == "fallback":
            items.append(item(e, "fallback"))
        elif e.outcome == "answered":
            if is_low_confidence(e, margin=confidence_margin, legacy_score=low_confidence):
                items.append(item(e, "low_confidence", e.entry_id))
            kb = (e.details or {}).get("kb") if isinstance(e.details, dict) else None
            if not (isinstance(kb, dict) and kb.get("picked")):
                answered.append(e)
        if e.helpful is False:
            items.append(item(e, "thumbs_down", e.entry_id))
    items += [item(e, "handoff_after_answer", e.entry_id)
              for e in _handoff_after(db, answered, handoff_turns)]

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
            items.append(item(e, "clarify_rejected" if rejected else "clarify"))
    return items


def _users(db: Session, conversation_ids: set[str]) -> dict[str, str]:
    """conversation id -> the cardholder's channel user id."""
    if not conversation_ids:
        return {}
    return {c: u for c, u in db.execute(select(Conversation.id, Conversation.user_id)
                                        .where(Conversation.id.in_(conversation_ids)))}


def _handoff_after(db: Session, answered: list[KBEvent], handoff_turns: int) -> list[KBEvent]:
    """Answered events followed by a handoff request before the cardholder sent
    ``handoff_turns`` + 1 more messages (as ``entry_stats`` counts ``handoffs_after``)."""
    if not answered:
        return []
    convs = {e.conversation_id for e in answered}
    requests: dict[str, list[datetime]] = defaultdict(list)
    for h in db.scalars(select(Handoff).where(Handoff.conversation_id.in_(convs))):
        at = _aware(h.requested_at)
        if at is not None:
            requests[h.conversation_id].append(at)
    if not requests:
        return []
    turns: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    for m in db.scalars(select(Message).where(Message.conversation_id.in_(set(requests)),
                                              Message.sender == "user").order_by(Message.id)):
        at = _aware(m.created_at)
        if at is not None:
            turns[m.conversation_id].append((m.id, at))
    out = []
    for e in answered:
        times = requests.get(e.conversation_id)
        start = _aware(e.created_at)
        if not times or start is None:
            continue
        after = [at for mid, at in turns.get(e.conversation_id, []) if mid > e.user_message_id]
        end = after[handoff_turns] if len(after) > handoff_turns else None
        if any(t >= start and (end is None or t < end) for t in times):
            out.append(e)
    return out


def group_items(items: Iterable[InboxItem], resolved: set[str],
                encode: Callable[[list[str]], np.ndarray], max_distance: float,
                max_questions: int) -> tuple[list[Group], int]:
    """Cluster the items' distinct questions by meaning; returns (groups by count, #questions)."""
    texts: dict[str, str] = {}
    counts: Counter[str] = Counter()
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    last: dict[str, datetime] = {}
    people: dict[str, set[str]] = defaultdict(set)
    convs: dict[str, set[str]] = defaultdict(set)
    asked: set[tuple[str, str | None, str | None]] = set()
    for item in items:
        key = normalize_question(item.text)
        if not key or key in resolved:
            continue
        texts.setdefault(key, item.text.strip())
        # One question turn can be several kinds (low confidence and thumbs down): it counts
        # once as asked, every kind is shown.
        turn = (key, item.conversation_id, item.at.isoformat() if item.at else None)
        if turn not in asked or item.conversation_id is None:
            counts[key] += 1
            asked.add(turn)
        kinds[key][item.kind] += 1
        if item.user_id or item.conversation_id:
            people[key].add(item.user_id or f"conversation:{item.conversation_id}")
        if item.conversation_id:
            convs[key].add(item.conversation_id)
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
            group.users |= people[k]
            group.conversations |= convs[k]
            if k in last and (group.last_at is None or last[k] > group.last_at):
                group.last_at = last[k]
        groups.append(group)
    # Ranked by how many cardholders a fix would help, then conversations, then asks.
    groups.sort(key=lambda g: (-len(g.users), -len(g.conversations), -g.count,
                               -(g.last_at.timestamp() if g.last_at else 0)))
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
    return {"key": group.key, "count": group.count, "users": len(group.users),
            "conversations": len(group.conversations),
            "kinds": {k: group.kinds.get(k, 0) for k in KINDS if group.kinds.get(k)},
            "representative": group.representative,
            "samples": [{"text": t, "count": c} for t, c in samples[:5]],
            "texts": [t for t, _ in samples], "last_at": group.last_at,
            "suggestion": suggestion}
