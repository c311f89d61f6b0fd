"""English (and mixed zh/en) questions against the one Chinese KB (issue 19).

Input: `knowledge_base/eval/english.yml` (`items: [{query, entry_id}]`, `entry_id` one id or a
list of ids that answer the query equally; `oos: [str]`), written apart from the KB before its
labels were read from it. No translation service is used: this measures what the multilingual
encoders do across languages.

Two systems, same queries:
- **shipped**: the served retrieval (`bench/shipped.py`: e5 + USE fused, adapter, spelling,
  calibrated answer / clarify / fallback policy), exactly as `KnowledgeService` searches.
- **raw e5**: multilingual-e5-small alone, no adapter, each entry scored by its best question
  (cosine); a ranking only, it has no decision policy.

Reported: hit@1 / hit@3 (a hit is any of the labelled ids), and for the shipped policy the
decision mix, answered precision (answered with a right entry / answered), clarify rate (and
whether the right entry is among the offered ones), false fallback, and the out-of-scope
rejection rate (decision != answer); overall and per category.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from bench.common import (
    REPO_ROOT,
    Skip,
    base_payload,
    header_md,
    md_table,
    set_threads,
    write_result,
)
from bench.heldout import CLARIFY_OPTIONS, EVAL_DIR, TOP_K, categories, rate

EVAL_FILE = EVAL_DIR / "english.yml"


def load_eval() -> tuple[list[dict[str, Any]], list[str]]:
    """(in-scope items with `expected` as a list of ids, out-of-scope lines)."""
    import yaml

    if not EVAL_FILE.is_file():
        raise Skip(f"{EVAL_FILE.relative_to(REPO_ROOT)} not found")
    data = yaml.safe_load(EVAL_FILE.read_text(encoding="utf-8")) or {}
    items = []
    for item in data.get("items") or []:
        label = item.get("entry_id")
        if label in (None, "none"):
            continue  # no KB entry answers it: not a retrieval query
        expected = [label] if isinstance(label, str) else [str(x) for x in label]
        items.append({"query": str(item["query"]), "expected": expected})
    oos = [str(x) for x in data.get("oos") or []]
    if not items:
        raise Skip("english.yml has no labelled items")
    return items, oos


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Ranking and decision metrics of in-scope rows (query, expected list, ranked, decision)."""
    n = len(rows)

    def right(r: dict[str, Any]) -> bool:
        return bool(r["ranked"]) and r["ranked"][0] in r["expected"]

    hit1 = sum(1 for r in rows if right(r))
    hit3 = sum(1 for r in rows if set(r["ranked"][:3]) & set(r["expected"]))
    out: dict[str, Any] = {"n": n, "hit@1": rate(hit1, n), "hit@3": rate(hit3, n)}
    if rows and rows[0].get("decision") is not None:
        decisions = Counter(r["decision"] for r in rows)
        answered = [r for r in rows if r["decision"] == "answer"]
        answered_right = sum(1 for r in answered if right(r))
        clarified = [r for r in rows if r["decision"] == "clarify"]
        offered = sum(1 for r in clarified
                      if set(r["ranked"][:CLARIFY_OPTIONS]) & set(r["expected"]))
        out.update({
            "answer_rate": rate(len(answered), n),
            "answered_precision": rate(answered_right, len(answered)),
            "answered_correct_rate": rate(answered_right, n),
            "clarify_rate": rate(len(clarified), n),
            "clarify_offered_right_rate": rate(offered, n),
            "false_fallback_rate": rate(decisions.get("fallback", 0), n),
            "resolved_rate": rate(answered_right + offered, n),
            "decisions": dict(decisions),
        })
    return out


def raw_e5_ranking(entries: list[Any], queries: list[str], top_k: int) -> list[list[str]]:
    """Entries ranked by the best cosine of raw e5 (no adapter, no second model)."""
    import numpy as np

    from bench.shipped import model_dir
    from knowledge_base.search.encoder import load_e5

    e5 = load_e5(model_dir())
    texts: list[str] = []
    owner: list[int] = []
    for i, e in enumerate(entries):
        for q in e.search_questions:  # the rows the shipped index holds
            texts.append(q)
            owner.append(i)
    kb = e5.encode(texts)
    qv = e5.encode(queries)
    sims = qv @ kb.T
    owner_arr = np.asarray(owner)
    out = []
    for row in sims:
        best = np.full(len(entries), -1.0)
        np.maximum.at(best, owner_arr, row)
        order = np.argsort(-best)[:top_k]
        out.append([entries[j].id for j in order])
    return out


def run(threads: int = 1, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Score shipped and raw e5 on english.yml; write bench/results/english.{json,md}."""
    from bench import shipped

    t_start = time.perf_counter()
    thread_setting = set_threads(threads)
    items, oos = load_eval()
    cats = categories()
    unknown = sorted({i for item in items for i in item["expected"]} - set(cats))
    retrieval = shipped.seed_retrieval()
    log(f"english: {len(items)} in-scope, {len(oos)} out-of-scope; {retrieval.describe()}")

    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for item in items:
        res = retrieval.search(item["query"], TOP_K)
        rows.append({"query": item["query"], "expected": item["expected"],
                     "category": cats.get(item["expected"][0], "?"),
                     "ranked": res.entry_ids, "decision": res.decision, "score": res.score})
    oos_rows = []
    for text in oos:
        res = retrieval.search(text, TOP_K)
        oos_rows.append({"query": text, "decision": res.decision, "top": res.entry_ids[:1],
                         "score": res.score})
    per_query_ms = 1000 * (time.perf_counter() - t0) / (len(rows) + len(oos_rows))

    raw = raw_e5_ranking(retrieval.snapshot.entries, [i["query"] for i in items], TOP_K)
    raw_rows = [{**r, "ranked": ranked, "decision": None}
                for r, ranked in zip(rows, raw, strict=True)]

    by_cat: dict[str, list[dict[str, Any]]] = defaultdict(list)
    raw_by_cat: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r, rr in zip(rows, raw_rows, strict=True):
        by_cat[r["category"]].append(r)
        raw_by_cat[r["category"]].append(rr)
    rejected = sum(1 for r in oos_rows if r["decision"] != "answer")
    overall = summarise(rows)
    raw_overall = summarise(raw_rows)
    oos_summary = {"n": len(oos_rows), "rejection_rate": rate(rejected, len(oos_rows)),
                   "decisions": dict(Counter(r["decision"] for r in oos_rows))}
    log(f"english: shipped hit@1 {overall['hit@1']:.3f} hit@3 {overall['hit@3']:.3f}; "
        f"raw e5 hit@1 {raw_overall['hit@1']:.3f} hit@3 {raw_overall['hit@3']:.3f}; "
        f"OOS rejection {oos_summary['rejection_rate']:.3f}")
    payload = base_payload("english", ["sentence-transformers", "torch", "faiss-cpu", "numpy"])
    payload.update({
        "runtime_s": time.perf_counter() - t_start,
        "retrieval": retrieval.describe(),
        "threads": thread_setting,
        "query_ms_mean": per_query_ms,
        "overall": overall,
        "raw_e5": raw_overall,
        "per_category": {c: summarise(rs) for c, rs in sorted(by_cat.items())},
        "raw_e5_per_category": {c: summarise(rs) for c, rs in sorted(raw_by_cat.items())},
        "oos": oos_summary,
        "unknown_entry_ids": unknown,
        "misses": [r for r in rows if not (r["ranked"][:1] and r["ranked"][0] in r["expected"])],
        "oos_answered": [r for r in oos_rows if r["decision"] == "answer"],
    })
    write_result("english", payload, render(payload))
    return payload


def render(payload: dict[str, Any]) -> str:
    """Markdown report."""
    head = ["category", "n", "raw e5 hit@1", "raw e5 hit@3", "shipped hit@1", "shipped hit@3",
            "answered", "answered precision", "clarify", "clarify, right one offered",
            "fallback", "resolved"]

    def line(name: str, s: dict[str, Any], r: dict[str, Any]) -> list[Any]:
        return [name, s["n"], r["hit@1"], r["hit@3"], s["hit@1"], s["hit@3"], s["answer_rate"],
                s["answered_precision"], s["clarify_rate"], s["clarify_offered_right_rate"],
                s["false_fallback_rate"], s["resolved_rate"]]

    rows = [line("**all**", payload["overall"], payload["raw_e5"])]
    rows += [line(c, s, payload["raw_e5_per_category"][c])
             for c, s in payload["per_category"].items()]
    oos = payload["oos"]
    text = header_md("English questions against the Chinese KB (shipped policy vs raw e5)", payload)
    text += (
        f"- retrieval: {payload['retrieval']}\n"
        f"- {payload['query_ms_mean']:.1f} ms per query (shipped, in process)\n"
        "- raw e5: multilingual-e5-small alone, no adapter, best question cosine (ranking only)\n\n"
        "## In-scope English questions (`knowledge_base/eval/english.yml`)\n\n"
        "Rates are shares of all queries of the row, except `answered precision` (share of the "
        "answered ones that are right).\n\n"
        + md_table(head, rows)
        + "\n\n## Out-of-scope English lines\n\n"
        + md_table(["n", "rejected (decision ≠ answer)", "decisions"],
                   [[oos["n"], oos["rejection_rate"], ", ".join(
                       f"{k} {v}" for k, v in sorted(oos["decisions"].items()))]])
        + "\n"
    )
    if payload["oos_answered"]:
        text += "\nOut-of-scope lines that were answered:\n\n" + "\n".join(
            f"- {r['query']} → {r['top'][0] if r['top'] else '?'} ({r['score']:.3f})"
            for r in payload["oos_answered"]) + "\n"
    if payload["unknown_entry_ids"]:
        missing = payload["unknown_entry_ids"]
        text += f"\nEntry ids in english.yml missing from the seed: {missing}\n"
    return text
