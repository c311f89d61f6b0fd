"""Our own held-out paraphrases and out-of-scope lines against the shipped retrieval policy.

Inputs: `knowledge_base/eval/heldout.yml` (`items: [{query, entry_id, label_before_audit?}]`,
paraphrases written independently of the KB's similar questions; the label audit is described in
the file) and `knowledge_base/eval/oos.yml` (`items: [str]`,
lines the KB must not answer). The index is the shipped KB (seed entries) built through the
public functions of `knowledge_base` (see bench/shipped.py).

Reported: hit@1 / hit@3 of the ranked entries, the decision mix (answer / clarify / fallback),
false-handoff rate (in-scope queries that end in fallback, i.e. toward a human), wrong-answer rate
(answered with a wrong entry), and the out-of-scope rejection rate (decision != answer); overall
and per category.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path
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

EVAL_DIR = REPO_ROOT / "knowledge_base" / "eval"
SEED_DIR = REPO_ROOT / "knowledge_base" / "seed"
TOP_K = 5
CLARIFY_OPTIONS = 3  # entries a clarify turn offers (actions/retrieval.py: hits[:3])


def load_items(path: Path) -> list[Any]:
    """The `items` list of an eval YAML file."""
    import yaml

    if not path.is_file():
        raise Skip(f"{path.relative_to(REPO_ROOT)} not found")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = data.get("items") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise Skip(f"{path.relative_to(REPO_ROOT)} has no items")
    return items


def categories() -> dict[str, str]:
    """entry id -> category, from the seed KB."""
    from knowledge_base.content.entries import load_seed

    return {entry.id: entry.category for entry in load_seed(SEED_DIR)}


def ask_dates() -> dict[str, date]:
    """entry id -> a day on which the entry is live, for time-limited entries (promotions).

    A cardholder asks about a promotion while it runs; asked after it ended, the entry is
    (rightly) hidden. Scoring such a paraphrase on today's date would measure the calendar, not
    the retrieval, so it is asked on the entry's first valid day."""
    from knowledge_base.content.entries import load_seed

    today = date.today()
    return {e.id: e.valid_from or today for e in load_seed(SEED_DIR)
            if (e.valid_from and e.valid_from > today) or (e.valid_to and e.valid_to < today)}


def rate(num: int, den: int) -> float | None:
    """num / den, or None for an empty group."""
    return num / den if den else None


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Metrics of in-scope rows (query, expected, ranked, decision)."""
    n = len(rows)
    decisions = Counter(r["decision"] for r in rows)
    hit1 = sum(1 for r in rows if r["ranked"][:1] == [r["expected"]])
    hit3 = sum(1 for r in rows if r["expected"] in r["ranked"][:3])
    answered = [r for r in rows if r["decision"] == "answer"]
    wrong = sum(1 for r in answered if r["ranked"][:1] != [r["expected"]])
    clarified = [r for r in rows if r["decision"] == "clarify"]
    offered = sum(1 for r in clarified if r["expected"] in r["ranked"][:CLARIFY_OPTIONS])
    return {
        "n": n,
        "hit@1": rate(hit1, n),
        "hit@3": rate(hit3, n),
        "answer_rate": rate(len(answered), n),
        "answered_correct_rate": rate(len(answered) - wrong, n),
        "wrong_answer_rate": rate(wrong, n),
        "clarify_rate": rate(len(clarified), n),
        "clarify_offered_right_rate": rate(offered, n),
        "resolved_rate": rate(len(answered) - wrong + offered, n),
        "false_handoff_rate": rate(decisions.get("fallback", 0), n),
        "decisions": dict(decisions),
    }


def run(threads: int = 1, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Score the shipped policy on heldout.yml / oos.yml; write bench/results/heldout.{json,md}."""
    from bench import shipped

    t_start = time.perf_counter()
    thread_setting = set_threads(threads)
    heldout = load_items(EVAL_DIR / "heldout.yml")
    oos = load_items(EVAL_DIR / "oos.yml")
    cats = categories()
    unknown = sorted({item["entry_id"] for item in heldout} - set(cats))
    retrieval = shipped.seed_retrieval()
    log(f"heldout: {len(heldout)} in-scope, {len(oos)} out-of-scope; {retrieval.describe()}")

    dated = ask_dates()
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for item in heldout:
        res = retrieval.search(str(item["query"]), TOP_K, today=dated.get(item["entry_id"]))
        rows.append(
            {
                "query": item["query"],
                "expected": item["entry_id"],
                "category": cats.get(item["entry_id"], "?"),
                "ranked": res.entry_ids,
                "decision": res.decision,
                "score": res.score,
                "corrected_query": res.corrected_query,
                "asked_on": str(dated[item["entry_id"]]) if item["entry_id"] in dated else None,
            }
        )
    oos_rows: list[dict[str, Any]] = []
    for line in oos:
        text = line if isinstance(line, str) else str(line.get("query", ""))
        res = retrieval.search(text, TOP_K)
        oos_rows.append(
            {"query": text, "decision": res.decision, "top": res.entry_ids[:1], "score": res.score,
             "corrected_query": res.corrected_query}
        )
    per_query_ms = 1000 * (time.perf_counter() - t0) / (len(rows) + len(oos_rows))

    overall = summarise(rows)
    # The same ranking scored against the labels as they were before the audit, so the audit's
    # effect on every figure stays visible.
    before = [
        {**r, "expected": item.get("label_before_audit", item["entry_id"])}
        for r, item in zip(rows, heldout, strict=True)
    ]
    audited = [
        {"query": item["query"], "entry_id": item["entry_id"],
         "label_before_audit": item["label_before_audit"]}
        for item in heldout if "label_before_audit" in item
    ]
    by_cat: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_cat[r["category"]].append(r)
    per_category = {c: summarise(rs) for c, rs in sorted(by_cat.items())}
    oos_decisions = Counter(r["decision"] for r in oos_rows)
    rejected = sum(1 for r in oos_rows if r["decision"] != "answer")
    oos_summary = {
        "n": len(oos_rows),
        "rejection_rate": rate(rejected, len(oos_rows)),
        "decisions": dict(oos_decisions),
    }
    log(
        f"heldout: hit@1 {overall['hit@1']:.3f} hit@3 {overall['hit@3']:.3f} "
        f"false handoff {overall['false_handoff_rate']:.3f} "
        f"OOS rejection {oos_summary['rejection_rate']:.3f}"
    )
    payload = base_payload(
        "heldout", ["sentence-transformers", "torch", "faiss-cpu", "jieba", "numpy"]
    )
    payload.update(
        {
            "runtime_s": time.perf_counter() - t_start,
            "retrieval": retrieval.describe(),
            "threads": thread_setting,
            "query_ms_mean": per_query_ms,
            "overall": overall,
            "overall_before_label_audit": summarise(before),
            "label_audit": audited,
            "per_category": per_category,
            "oos": oos_summary,
            "unknown_entry_ids": unknown,
            "time_limited": [r for r in rows if r["asked_on"]],
            "misses": [r for r in rows if r["ranked"][:1] != [r["expected"]]],
            "oos_answered": [r for r in oos_rows if r["decision"] == "answer"],
            "typo_corrected": {"in_scope": [r for r in rows if r["corrected_query"]],
                               "out_of_scope": [r for r in oos_rows if r["corrected_query"]]},
        }
    )
    write_result("heldout", payload, render(payload))
    return payload


def label_audit_md(payload: dict[str, Any]) -> str:
    """The corrected labels and the overall row scored against the labels before the audit."""
    audited = payload.get("label_audit") or []
    if not audited:
        return ""
    b = payload["overall_before_label_audit"]
    lines = "\n".join(
        f"- {a['query']}: {a['label_before_audit']} → {a['entry_id']}" for a in audited
    )
    return (
        f"\n\nLabel audit (see heldout.yml): {len(audited)} labels corrected. Against the labels "
        f"before the audit the same ranking scores hit@1 {b['hit@1']:.3f}, hit@3 {b['hit@3']:.3f}, "
        f"answered wrong {b['wrong_answer_rate']:.3f}, resolved {b['resolved_rate']:.3f}.\n\n"
        + lines
    )


def render(payload: dict[str, Any]) -> str:
    """Markdown report."""
    head = ["category", "n", "hit@1", "hit@3", "answered", "answered right", "answered wrong",
            "clarify", "clarify, right one offered", "fallback (false handoff)", "resolved"]

    def line(name: str, s: dict[str, Any]) -> list[Any]:
        return [name, s["n"], s["hit@1"], s["hit@3"], s["answer_rate"],
                s["answered_correct_rate"], s["wrong_answer_rate"], s["clarify_rate"],
                s["clarify_offered_right_rate"], s["false_handoff_rate"], s["resolved_rate"]]

    rows = [line("**all**", payload["overall"])]
    rows += [line(c, s) for c, s in payload["per_category"].items()]
    oos = payload["oos"]
    text = header_md("Held-out paraphrases and out-of-scope lines (shipped policy)", payload)
    text += (
        f"- retrieval: {payload['retrieval']}\n"
        f"- {payload['query_ms_mean']:.1f} ms per query (encode + search + policy, in process, "
        f"threads: {', '.join(f'{k} {v}' for k, v in payload['threads'].items())})\n"
        f"- {len(payload['time_limited'])} paraphrases ask about "
        "time-limited entries (promotions) that are not live today; they are asked on the "
        "entry's first valid day (`asked_on` in the JSON)\n"
        f"- homophone typos corrected before search (knowledge_base/spelling.py) in "
        f"{len(payload['typo_corrected']['in_scope'])} in-scope and "
        f"{len(payload['typo_corrected']['out_of_scope'])} out-of-scope queries "
        "(`typo_corrected` in the JSON)\n\n"
        "## In-scope held-out paraphrases (`knowledge_base/eval/heldout.yml`)\n\n"
        "Rates are shares of all queries of the row. `fallback` is the false-handoff rate "
        "(the bot gives up and offers a human). `clarify, right one offered`: the clarify turn "
        f"lists the right entry among its {CLARIFY_OPTIONS} options. `resolved` = answered right "
        "+ clarify with the right one offered.\n\n"
        + md_table(head, rows)
        + label_audit_md(payload)
        + "\n\n## Out-of-scope lines (`knowledge_base/eval/oos.yml`)\n\n"
        + md_table(
            ["n", "rejected (decision ≠ answer)", "decisions"],
            [[oos["n"], oos["rejection_rate"], ", ".join(
                f"{k} {v}" for k, v in sorted(oos["decisions"].items()))]],
        )
        + "\n"
    )
    if payload["oos_answered"]:
        text += "\nOut-of-scope lines that were answered:\n\n" + "\n".join(
            f"- {r['query']} → {r['top'][0] if r['top'] else '?'} ({r['score']:.3f})"
            for r in payload["oos_answered"]
        ) + "\n"
    if payload["unknown_entry_ids"]:
        missing = payload["unknown_entry_ids"]
        text += f"\nEntry ids in heldout.yml missing from the seed: {missing}\n"
    return text
