"""The shipped answer / clarify / fallback policy on real customers' questions (CCB-287).

The KB is made of CCB standard questions (`bench/shipped.ccb_entries`: each of the 287
paraphrase groups is an entry, its first question the standard one, its second a similar one);
its 547 other questions are the queries, sent through the live search code
(`KnowledgeService.search_snapshot`), so query understanding, typo correction and the decision
all apply as in production.

The groups are split in two by a seeded permutation (`split_groups`): the **dev** half is what
the real-language calibration (`knowledge_base/search/realcal.py`) may be fitted on, the
**test** half is only ever reported. Per split:

- answered right (share of all queries), precision when answering, clarify rate, clarify with
  the right entry among its 3 options, fallback, **resolved** (answered right, or a clarify
  offering the right entry; every query has an entry here), hit@1 / hit@3;
- answer rate at 90 % / 95 % precision: the `confidence.answer` threshold that reaches the
  precision on dev, applied to test (never chosen on test).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bench import ccb_data
from bench.common import base_payload, header_md, md_table, set_threads, write_result

TOP_K = 5
CLARIFY_OPTIONS = 3
SPLIT_SEED = 14
PRECISIONS = (0.90, 0.95)
# The KB is the CCB's own: its deploying bank's names, as a bank would set BANK_NAMES.
CCB_BANK_NAMES = "中国建设银行,建设银行,建行,CCB,龙卡,建行生活=App"


def split_groups(n_groups: int, seed: int = SPLIT_SEED) -> np.ndarray:
    """True for the dev groups: half of them, by a seeded permutation (the rest is test)."""
    order = np.random.default_rng(seed).permutation(n_groups)
    dev = np.zeros(n_groups, bool)
    dev[order[: n_groups // 2]] = True
    return dev


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Decision metrics of query rows {expected, ranked, decision}."""
    n = len(rows)
    if not n:
        return {"n": 0}
    answered = [r for r in rows if r["decision"] == "answer"]
    right = sum(1 for r in answered if r["ranked"][:1] == [r["expected"]])
    clarified = [r for r in rows if r["decision"] == "clarify"]
    offered = sum(1 for r in clarified if r["expected"] in r["ranked"][:CLARIFY_OPTIONS])
    first = sum(1 for r in clarified if r["ranked"][:1] == [r["expected"]])
    return {
        "n": n,
        "hit@1": sum(r["ranked"][:1] == [r["expected"]] for r in rows) / n,
        "hit@3": sum(r["expected"] in r["ranked"][:3] for r in rows) / n,
        "answer_rate": len(answered) / n,
        "answered_right_rate": right / n,
        "precision_when_answering": right / len(answered) if answered else None,
        "clarify_rate": len(clarified) / n,
        "clarify_offered_right_rate": offered / n,
        "clarify_right_share": offered / len(clarified) if clarified else None,
        # of the clarifies that offer the right entry, the share that list it first
        "clarify_right_first_share": first / offered if offered else None,
        "fallback_rate": sum(r["decision"] == "fallback" for r in rows) / n,
        "resolved_rate": (right + offered) / n,
        "decisions": dict(Counter(r["decision"] for r in rows)),
    }


def threshold_at_precision(conf: np.ndarray, correct: np.ndarray, target: float) -> float | None:
    """Lowest confidence whose answered set (conf >= it) reaches ``target`` precision."""
    order = np.argsort(-conf, kind="stable")
    precision = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero(precision >= target)[0]
    return float(conf[order][ok[-1]]) if len(ok) else None


def at_precision(dev: Sequence[dict[str, Any]], test: Sequence[dict[str, Any]],
                 key: str = "confidence") -> dict[str, Any]:
    """Answer rate and precision on test at the dev thresholds of each target precision
    (thresholds on ``row[key]``)."""
    out: dict[str, Any] = {}
    if not dev or any(r.get(key) is None for r in [*dev, *test]):
        return out
    for target in PRECISIONS:
        dc = np.array([r[key] for r in dev])
        dy = np.array([r["ranked"][:1] == [r["expected"]] for r in dev], float)
        t = threshold_at_precision(dc, dy, target)
        row: dict[str, Any] = {"threshold_on_dev": t}
        for name, rows in (("dev", dev), ("test", test)):
            conf = np.array([r[key] for r in rows])
            ok = np.array([r["ranked"][:1] == [r["expected"]] for r in rows], bool)
            answered = conf >= t if t is not None else np.zeros(len(rows), bool)
            row[name] = {"answer_rate": float(answered.mean()) if len(rows) else None,
                         "precision": float(ok[answered].mean()) if answered.any() else None}
        out[f"{target:.2f}"] = row
    return out


def evaluate(log: Callable[[str], None] = print,
             bank_names: str | None = CCB_BANK_NAMES) -> dict[str, Any]:
    """Rows and summaries of CCB-287 through the shipped policy (raises Skip without data)."""
    from bench import shipped
    from knowledge_base.search.retrieval import load_out_of_scope
    from knowledge_base.search.service import NLU_DIR

    rs = ccb_data.ccb_287()
    dev_groups = split_groups(rs.n_entries)
    t0 = time.perf_counter()
    retrieval = shipped.ShippedRetrieval(shipped.ccb_entries(rs), load_out_of_scope(NLU_DIR),
                                         bank_names=bank_names)
    index_s = time.perf_counter() - t0
    log(f"ccb_policy: {retrieval.describe()} ({index_s:.0f} s)")
    rows: list[dict[str, Any]] = []
    t1 = time.perf_counter()
    for query, entry in zip(rs.queries, rs.query_entry, strict=True):
        res = retrieval.search(query, TOP_K)
        rows.append({"expected": retrieval.ids[entry], "ranked": res.entry_ids,
                     "decision": res.decision, "confidence": res.confidence,
                     "real_confidence": res.real_confidence,
                     "combined_confidence": res.combined_confidence,
                     "split": "dev" if dev_groups[entry] else "test",
                     "normalized": res.query_normalized is not None})
    per_query_ms = 1000 * (time.perf_counter() - t1) / max(len(rows), 1)
    dev = [r for r in rows if r["split"] == "dev"]
    test = [r for r in rows if r["split"] == "test"]
    named = bank_named(retrieval, rs, dev_groups, bank_names)
    lexical = lexical_fusion(retrieval, rs, dev_groups)
    return {
        "retrieval": retrieval.describe(),
        "index_s": index_s,
        "query_ms_mean": per_query_ms,
        "entries": rs.n_entries,
        "indexed": len(rs.docs),
        "queries": len(rs.queries),
        "split_seed": SPLIT_SEED,
        "dev_groups": int(dev_groups.sum()),
        "queries_normalized": sum(bool(r["normalized"]) for r in rows),
        "all": summarise(rows),
        "dev": summarise(dev),
        "test": summarise(test),
        "at_precision": at_precision(dev, test),
        "at_precision_real": at_precision(dev, test, "real_confidence"),
        "at_precision_combined": at_precision(dev, test, "combined_confidence"),
        "bank_named": named,
        "lexical_fusion": lexical,
    }


LEXICAL_WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.2)
FUSION_CANDIDATES = 30


def lexical_fusion(retrieval: Any, rs: Any, dev_groups: np.ndarray) -> dict[str, Any]:
    """Would a lexical signal help the ranking? BM25 (rank_bm25 over jieba words) of the query
    against each KB question, the best question per entry, divided by the query's best BM25 over
    the dense candidates (so it lies in [0, 1]), added with weight ``w`` to the dense entry
    score of the top ``FUSION_CANDIDATES`` dense candidates. The weight that would ship is the
    best on dev (ties: the smaller); test is reported only."""
    from datetime import date

    from bench.lexical import Bm25
    from knowledge_base.search.query import understand

    service, snap = retrieval.service, retrieval.snapshot
    questions = snap.artifacts.questions
    row_entry = np.asarray(snap.artifacts.row_entry)
    bm25 = Bm25(questions)
    live = snap.live("web", date.today())
    per_split: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]] = {
        "dev": [], "test": []}
    t0 = time.perf_counter()
    for query, entry in zip(rs.queries, rs.query_entry, strict=True):
        text = snap.corrector.correct(understand(query, service._query_config).normalized)
        vector, raw = snap.encode_query(text)
        scored = service._candidates(snap, vector, live, FUSION_CANDIDATES, raw)
        ids = np.array([h.entry_index for h in scored])
        dense = np.array([h.score for h in scored])
        per_row = bm25.scores([text])[0]
        per_entry = np.zeros(len(snap.entries))
        np.maximum.at(per_entry, row_entry, per_row)
        lex = per_entry[ids]
        lex = lex / lex.max() if lex.max() > 0 else lex
        per_split["dev" if dev_groups[entry] else "test"].append((ids, dense, lex, entry))
    ms = 1000 * (time.perf_counter() - t0) / max(len(rs.queries), 1)
    rows = []
    for w in LEXICAL_WEIGHTS:
        row: dict[str, Any] = {"weight": w}
        for split, items in per_split.items():
            h1 = h3 = 0
            for ids, dense, lex, entry in items:
                order = ids[np.argsort(-(dense + w * lex), kind="stable")]
                h1 += int(order[0] == entry)
                h3 += int(entry in order[:3])
            row[split] = {"hit@1": h1 / max(len(items), 1), "hit@3": h3 / max(len(items), 1)}
        rows.append(row)
    best = max(rows, key=lambda r: (r["dev"]["hit@1"], r["dev"]["hit@3"], -r["weight"]))
    return {"rows": rows, "chosen_on_dev": best["weight"], "candidates": FUSION_CANDIDATES,
            "ms_per_query_with_bm25": ms}


BANK_PREFIX = "请问建行"


def bank_named(retrieval: Any, rs: Any, dev_groups: np.ndarray,
               bank_names: str | None) -> dict[str, Any]:
    """The test queries as a cardholder names the bank ("请问建行" + query), searched with the
    CCB's BANK_NAMES and with the demo bank's (where 建行 is no own name and, not being named
    as a card's issuer here, stays in the text): what stripping the own name is worth."""
    import dataclasses

    from knowledge_base.search.service import KnowledgeService

    out: dict[str, Any] = {"prefix": BANK_PREFIX}
    for label, names in (("with_bank_names", bank_names), ("demo_bank_names", "")):
        service = KnowledgeService(dataclasses.replace(retrieval.service._settings,
                                                       bank_names=names or ""))
        rows = []
        for query, entry in zip(rs.queries, rs.query_entry, strict=True):
            if dev_groups[entry]:
                continue
            res = service.search_snapshot(retrieval.snapshot, BANK_PREFIX + query, top_k=TOP_K)
            rows.append({"expected": retrieval.ids[entry],
                         "ranked": [h["entry_id"] for h in res["hits"]],
                         "decision": res["decision"]})
        out[label] = summarise(rows)
    return out


def run(threads: int = 1, log: Callable[[str], None] = print,
        name: str = "ccb_policy") -> dict[str, Any]:
    """Write bench/results/<name>.{json,md}."""
    t_start = time.perf_counter()
    thread_setting = set_threads(threads)
    result = evaluate(log)
    payload = base_payload(name, ["sentence-transformers", "torch", "faiss-cpu", "numpy"])
    payload.update({"runtime_s": time.perf_counter() - t_start, "threads": thread_setting,
                    "data_dir": str(ccb_data.data_dir()), **result})
    log(f"ccb_policy: test {fmt(result['test'])}")
    write_result(name, payload, render(payload))
    return payload


def fmt(s: dict[str, Any]) -> str:
    p = s.get("precision_when_answering")
    return (f"answered right {s['answered_right_rate']:.3f}, precision "
            f"{p if p is None else round(p, 3)}, clarify {s['clarify_rate']:.3f}, "
            f"resolved {s['resolved_rate']:.3f}")


def render(payload: dict[str, Any]) -> str:
    parts = [header_md("CCB-287 through the shipped decision policy", payload)]
    parts.append(
        f"- retrieval: {payload['retrieval']}\n"
        f"- KB: {payload['entries']} entries made of CCB standard questions "
        f"({payload['indexed']} indexed), {payload['queries']} real customers' queries; groups "
        f"split by seed {payload['split_seed']}: {payload['dev_groups']} dev groups (may be "
        "used for calibration), the rest test (reported only)\n"
        f"- {payload['query_ms_mean']:.1f} ms per query; query understanding changed "
        f"{payload['queries_normalized']} queries\n\n"
    )
    headers = ["split", "n", "answered right", "precision when answering", "clarify",
               "clarify, right offered", "…of those, right first", "fallback", "resolved",
               "hit@1", "hit@3"]
    rows = [[name, s["n"], s["answered_right_rate"], s["precision_when_answering"],
             s["clarify_rate"], s["clarify_offered_right_rate"],
             s.get("clarify_right_first_share"), s["fallback_rate"],
             s["resolved_rate"], s["hit@1"], s["hit@3"]]
            for name, s in (("test", payload["test"]), ("dev", payload["dev"]),
                            ("all", payload["all"]))]
    parts.append(md_table(headers, rows) + "\n")
    parts.append("\n## Answer rate at a target precision on real questions (threshold chosen "
                 "on dev, applied to test)\n\n")
    prow = []
    for model, key in (("team-data model (`confidence.answer`)", "at_precision"),
                       ("real-language model (`confidence.real_answer`)", "at_precision_real"),
                       ("combined model, deciding (`confidence.combined_answer`)",
                        "at_precision_combined")):
        for target, r in (payload.get(key) or {}).items():
            prow.append([model, target, r["threshold_on_dev"], r["dev"]["answer_rate"],
                         r["dev"]["precision"], r["test"]["answer_rate"],
                         r["test"]["precision"]])
    parts.append(md_table(["model", "target precision", "threshold (dev)", "dev answered",
                           "dev precision", "test answered", "test precision"], prow) + "\n")
    lexical = payload.get("lexical_fusion") or {}
    if lexical:
        parts.append(
            "\n## Lexical fusion (ranking): dense score + w × BM25-jieba (normalised per query) "
            f"over the top {lexical['candidates']} dense candidates\n\n"
            f"Weight chosen on dev: **{lexical['chosen_on_dev']}** (0 = lexical left out); "
            f"{lexical['ms_per_query_with_bm25']:.1f} ms per query for encode + candidates + "
            "BM25.\n\n")
        parts.append(md_table(["w", "dev hit@1", "dev hit@3", "test hit@1", "test hit@3"],
                              [[r["weight"], r["dev"]["hit@1"], r["dev"]["hit@3"],
                                r["test"]["hit@1"], r["test"]["hit@3"]]
                               for r in lexical["rows"]]) + "\n")
    named = payload.get("bank_named") or {}
    if named:
        parts.append(f"\n## The bank named: test queries as \"{named['prefix']}…\"\n\n")
        nrows = [[label, s["n"], s["answered_right_rate"], s["precision_when_answering"],
                  s["clarify_rate"], s["resolved_rate"], s["hit@1"], s["hit@3"]]
                 for label, s in (("BANK_NAMES = the CCB's (stripped)",
                                   named["with_bank_names"]),
                                  ("BANK_NAMES = demo bank (建行 stays in the text)",
                                   named["demo_bank_names"]))]
        parts.append(md_table(["setting", "n", "answered right", "precision when answering",
                               "clarify", "resolved", "hit@1", "hit@3"], nrows) + "\n")
    return "".join(parts)
