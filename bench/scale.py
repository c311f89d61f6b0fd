"""Vector-search scale: latency and recall@10 of Flat / IVF / HNSW (faiss) at 10k, 100k and 1M.

The vectors are synthetic (nothing is downloaded) but clustered, because uniform random vectors
in 384 dimensions have no near neighbours and are a pathological case for every ANN index:

- 32 "topic" directions; 2,000 cluster centroids, each = topic + Gaussian noise (norm 0.5),
  normalised, so sibling clusters overlap;
- each point = its centroid + a Gaussian in a cluster-specific rank-16 subspace (norm ~1.5)
  + isotropic Gaussian noise (norm ~0.5), normalised to unit length (cosine = inner product).

The 1,000 queries are fresh draws from the same mixture (not in the database). Recall@10 is
measured against exact inner-product search. Every query is searched alone (`nq = 1`), as the
service does, with `faiss.omp_set_num_threads(2)` and again with 1 thread. Smaller databases are
prefixes of the 1M one. Besides raw faiss Flat / IVF-Flat / HNSW-Flat sweeps, the product's own
`knowledge_base.search.index.VectorIndex` (its size rule and HNSW parameters) is built and searched
through its `search` method up to 100k vectors.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.common import (
    base_payload,
    header_md,
    md_table,
    percentile_ms,
    rss_bytes,
    trim_heap,
    write_result,
)

DIM = 384
N_TOPICS = 32
N_CENTROIDS = 2000
SUBSPACE_RANK = 16
CENTROID_NOISE = 0.5
SUBSPACE_NORM = 1.5
ISO_NORM = 0.5
K = 10
THREADS = 2  # builds, ground truth and the main latency columns
SERVE_THREADS = (2, 1)  # single-query latency is measured with both OpenMP settings
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
N_QUERIES = 1000
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = (16, 32, 64, 128, 256, 512, 1024)
IVF_NPROBE = (1, 2, 4, 8, 16, 32, 64, 128)
IVF_NITER = 10
IVF_TRAIN_PER_LIST = 40  # k-means sample: 40 points per list (faiss warns below 39)
SHIPPED_MAX_N = 100_000  # above this the shipped HNSW (M=32, efC=200) builds too slowly
TARGET_RECALL = 0.95
TARGET_P99_MS = 10.0
SEED = 20240601


def flat_queries(n: int) -> int:
    """Queries for exact search, fewer for big databases (0.1-1 s per query at 1M on a busy
    2-core box): 1000 at 10k, 200 at 100k, 100 at 1M."""
    return int(min(N_QUERIES, max(100, 20_000_000 // n)))


def ivf_nlist(n: int) -> int:
    """Number of IVF lists: a power of two near 2*sqrt(n) (128 at 10k, 512 at 100k, 2048 at 1M)."""
    target = 2.0 * np.sqrt(n)
    return int(2 ** round(np.log2(target)))


def clustered_vectors(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """`n` unit vectors from the clustered mixture described in the module docstring.

    Returns (vectors float32 [n, DIM], cluster id per vector).
    """
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((N_TOPICS, DIM), dtype=np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    centroids = topics[rng.integers(N_TOPICS, size=N_CENTROIDS)]
    centroids += rng.standard_normal((N_CENTROIDS, DIM), dtype=np.float32) * (
        CENTROID_NOISE / np.sqrt(DIM)
    )
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    assign = rng.integers(N_CENTROIDS, size=n)
    order = np.argsort(assign, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(assign, minlength=N_CENTROIDS))])
    x = np.empty((n, DIM), dtype=np.float32)
    scale = SUBSPACE_NORM / np.sqrt(DIM * SUBSPACE_RANK)
    for k in range(N_CENTROIDS):
        rows = order[bounds[k] : bounds[k + 1]]
        if rows.size == 0:
            continue
        basis = rng.standard_normal((DIM, SUBSPACE_RANK), dtype=np.float32) * scale
        z = rng.standard_normal((rows.size, SUBSPACE_RANK), dtype=np.float32)
        x[rows] = centroids[k] + z @ basis.T
    for start in range(0, n, 100_000):
        chunk = x[start : start + 100_000]
        chunk += rng.standard_normal(chunk.shape, dtype=np.float32) * (ISO_NORM / np.sqrt(DIM))
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
    return x, assign


@dataclass
class Timed:
    """Single-query search results and per-query latency."""

    ids: np.ndarray
    latency_ns: np.ndarray


def search_one_by_one(faiss: Any, index: Any, queries: np.ndarray, threads: int,
                      warmup: int = 20) -> Timed:
    """Search each query alone (nq = 1) with `threads` OpenMP threads and time it."""
    faiss.omp_set_num_threads(threads)
    for i in range(min(warmup, len(queries))):
        index.search(queries[i : i + 1], K)
    ids = np.empty((len(queries), K), dtype=np.int64)
    lat = np.empty(len(queries), dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(len(queries)):
        t0 = clock()
        _, found = index.search(queries[i : i + 1], K)
        lat[i] = clock() - t0
        ids[i] = found[0]
    faiss.omp_set_num_threads(THREADS)
    return Timed(ids, lat)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean |found ∩ truth| / K over queries."""
    hits = [len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits) / K)


def index_nbytes(faiss: Any, index: Any) -> int:
    """Serialised size of a faiss index (what it costs on disk and, roughly, in memory)."""
    blob = faiss.serialize_index(index)
    size = int(blob.nbytes)
    del blob
    return size


def build(factory: Callable[[], Any], train: np.ndarray | None, data: np.ndarray) -> dict[str, Any]:
    """Build an index, measuring train/add time and the RSS delta."""
    gc.collect()
    trim_heap()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    index = factory()
    train_s = 0.0
    if train is not None:
        index.train(train)
        train_s = time.perf_counter() - t0
    index.add(data)
    build_s = time.perf_counter() - t0
    return {
        "index": index,
        "train_s": train_s,
        "build_s": build_s,
        "rss_delta_bytes": rss_bytes() - rss0,
    }


def run_size(
    faiss: Any,
    xb: np.ndarray,
    xq: np.ndarray,
    assign_b: np.ndarray,
    assign_q: np.ndarray,
    log: Callable[[str], None],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All index kinds and parameter sweeps for one database size."""
    n = len(xb)
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    sims, truth = faiss.knn(xq, xb, K, metric=faiss.METRIC_INNER_PRODUCT)
    data_stats = {
        "n": n,
        "ground_truth_s": time.perf_counter() - t0,
        "mean_cos_nn1": float(sims[:, 0].mean()),
        "mean_cos_nn10": float(sims[:, K - 1].mean()),
        "same_cluster_share_top10": float((assign_b[truth] == assign_q[:, None]).mean()),
    }
    log(f"  n={n:,}: exact ground truth in {data_stats['ground_truth_s']:.1f} s")

    def measure(kind: str, params: dict[str, Any], built: dict[str, Any],
                queries: np.ndarray) -> dict[str, Any]:
        timed = {t: search_one_by_one(faiss, built["index"], queries, t) for t in SERVE_THREADS}
        main = timed[THREADS]
        entry: dict[str, Any] = {
            "n": n,
            "kind": kind,
            "params": params,
            "queries": len(queries),
            "recall@10": recall_at_k(main.ids, truth[: len(queries)]),
        }
        for t, res in timed.items():
            sfx = "" if t == THREADS else f"_{t}t"
            entry[f"p50_ms{sfx}"] = percentile_ms(res.latency_ns, 50)
            entry[f"p99_ms{sfx}"] = percentile_ms(res.latency_ns, 99)
            entry[f"mean_ms{sfx}"] = float(res.latency_ns.mean() / 1e6)
        entry.update({k: built[k] for k in ("train_s", "build_s", "index_bytes",
                                             "rss_delta_bytes")})
        rows.append(entry)
        log(
            f"  n={n:,} {kind} {params_text(params)}: recall@10 {entry['recall@10']:.3f} | "
            + " | ".join(
                f"{t} thr p50 {percentile_ms(r.latency_ns, 50):.3f} "
                f"p99 {percentile_ms(r.latency_ns, 99):.3f} ms"
                for t, r in timed.items()
            )
        )
        return entry

    # Flat (exact): the reference, and what a small knowledge base uses.
    built = build(lambda: faiss.IndexFlatIP(DIM), None, xb)
    built["index_bytes"] = index_nbytes(faiss, built["index"])
    nq_flat = flat_queries(n)
    measure("Flat", {}, built, xq[:nq_flat])
    del built
    gc.collect()

    # IVF-Flat with a flat coarse quantizer.
    nlist = ivf_nlist(n)
    n_train = min(n, IVF_TRAIN_PER_LIST * nlist)
    train = xb[np.random.default_rng(SEED + 1).choice(n, n_train, replace=False)]

    def make_ivf() -> Any:
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = IVF_NITER
        return index

    built = build(make_ivf, train, xb)
    built["index_bytes"] = index_nbytes(faiss, built["index"])
    log(f"  n={n:,} IVF{nlist} built in {built['build_s']:.1f} s (train {built['train_s']:.1f} s)")
    for nprobe in IVF_NPROBE:
        if nprobe > nlist:
            break
        built["index"].nprobe = nprobe
        params = {"nlist": nlist, "nprobe": nprobe, "train_points": n_train, "niter": IVF_NITER}
        entry = measure("IVF", params, built, xq)
        if entry["recall@10"] >= 0.999:
            break
    del built, train
    gc.collect()

    # HNSW-Flat.
    def make_hnsw() -> Any:
        index = faiss.IndexHNSWFlat(DIM, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        return index

    built = build(make_hnsw, None, xb)
    built["index_bytes"] = index_nbytes(faiss, built["index"])
    log(f"  n={n:,} HNSW{HNSW_M} built in {built['build_s']:.1f} s")
    for ef in HNSW_EF_SEARCH:
        built["index"].hnsw.efSearch = ef
        params = {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": ef}
        entry = measure("HNSW", params, built, xq)
        if entry["recall@10"] >= 0.999 or entry["p50_ms"] > 50:
            break
    del built
    gc.collect()

    # The shipped VectorIndex (knowledge_base.search.index), searched through its own method.
    try:
        from knowledge_base.search import index as kb_index
    except ImportError as exc:
        log(f"  shipped VectorIndex not importable ({exc}); skipped")
        return rows, data_stats
    if n > SHIPPED_MAX_N and kb_index.kind_for_size(n) == "hnsw":
        log(f"  n={n:,}: shipped VectorIndex not built (HNSW over {SHIPPED_MAX_N:,}, time budget)")
        return rows, data_stats
    built = _build_shipped(kb_index, xb)
    built["index_bytes"] = index_nbytes(faiss, built["index"].faiss_index)
    vi = built["index"]
    params = {"kind": vi.kind}
    if vi.kind == "hnsw":
        params.update({"M": kb_index.HNSW_M, "efConstruction": kb_index.HNSW_EF_CONSTRUCTION,
                       "efSearch": kb_index.HNSW_EF_SEARCH})
    elif vi.kind == "ivf":
        params.update({"nlist": int(vi.faiss_index.nlist), "nprobe": int(vi.faiss_index.nprobe)})
    log(f"  n={n:,} shipped VectorIndex ({vi.kind}) built in {built['build_s']:.1f} s")
    measure("shipped VectorIndex", params, built, xq[:nq_flat] if vi.kind == "flat" else xq)
    del built, vi
    gc.collect()
    return rows, data_stats


def _build_shipped(kb_index: Any, data: np.ndarray) -> dict[str, Any]:
    """Build the product's VectorIndex (kind chosen by its own size rule)."""
    gc.collect()
    trim_heap()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    index = kb_index.VectorIndex.build(data)
    build_s = time.perf_counter() - t0
    # VectorIndex.search sets one faiss thread on its first call in a thread; trigger that now
    # so search_one_by_one's explicit omp_set_num_threads(2) / (1) stand while measuring.
    kb_index.limit_faiss_threads()
    return {
        "index": index,
        "train_s": 0.0,
        "build_s": build_s,
        "rss_delta_bytes": rss_bytes() - rss0,
    }


def operating_points(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (n, kind): the cheapest swept setting with recall@10 >= TARGET_RECALL."""
    chosen: list[dict[str, Any]] = []
    keys = sorted({(r["n"], r["kind"]) for r in rows}, key=lambda k: (k[0], k[1]))
    for n, kind in keys:
        cands = [r for r in rows if r["n"] == n and r["kind"] == kind]
        ok = [r for r in cands if r["recall@10"] >= TARGET_RECALL]
        pick = ok[0] if ok else max(cands, key=lambda r: r["recall@10"])
        fast = min(pick["p99_ms"], pick["p99_ms_1t"]) <= TARGET_P99_MS
        chosen.append({**pick, "meets_target": bool(ok) and fast})
    return chosen


def params_text(params: dict[str, Any]) -> str:
    """Compact parameter string for tables."""
    keep = {k: v for k, v in params.items() if k not in ("train_points", "niter")}
    return ", ".join(f"{k}={v}" for k, v in keep.items()) or "exact"


def render(payload: dict[str, Any]) -> str:
    """Markdown report."""
    mib = 1024**2
    chosen = payload["operating_points"]
    head = ["n", "index", "params", "recall@10", "p50 ms", "p99 ms", "p50 ms 1 thr",
            "p99 ms 1 thr", "build s", "index MiB", "RSS Δ MiB", "meets target"]
    table = md_table(
        head,
        [
            [f"{r['n']:,}", r["kind"], params_text(r["params"]), r["recall@10"], r["p50_ms"],
             r["p99_ms"], r["p50_ms_1t"], r["p99_ms_1t"], f"{r['build_s']:.1f}",
             f"{r['index_bytes'] / mib:.1f}", f"{r['rss_delta_bytes'] / mib:.1f}",
             "yes" if r["meets_target"] else "no"]
            for r in chosen
        ],
    )
    sweep = md_table(
        ["n", "index", "params", "queries", "recall@10", "p50 ms", "p99 ms", "p50 ms 1 thr",
         "p99 ms 1 thr"],
        [
            [f"{r['n']:,}", r["kind"], params_text(r["params"]), r["queries"], r["recall@10"],
             r["p50_ms"], r["p99_ms"], r["p50_ms_1t"], r["p99_ms_1t"]]
            for r in payload["rows"]
        ],
    )
    stats = md_table(
        ["n", "mean cos to 1st NN", "mean cos to 10th NN", "top-10 in query's own cluster"],
        [
            [f"{s['n']:,}", s["mean_cos_nn1"], s["mean_cos_nn10"], s["same_cluster_share_top10"]]
            for s in payload["data_stats"]
        ],
    )
    load = payload["loadavg"]
    return (
        header_md("Vector search at scale (faiss, 384-d, synthetic clustered data)", payload)
        + f"- load average (1 min) before / after: {load['before']:.2f} / {load['after']:.2f} "
        f"on {payload['machine']['nproc']} cores (shared machine: latencies include contention)\n"
        f"- data: {payload['data']}\n"
        f"- search: one query per call (nq = 1), k = {K}; builds use {THREADS} faiss threads; "
        f"latency with `omp_set_num_threads({THREADS})` and, in the `1 thr` columns, 1; "
        f"{N_QUERIES} queries (Flat: {', '.join(str(flat_queries(n)) for n in payload['sizes'])}"
        " at the sizes above)\n\n"
        "## Operating points\n\n"
        "Cheapest swept setting reaching recall@10 ≥ 0.95 (or the best one when none does). "
        "`meets target`: recall@10 ≥ 0.95 and p99 ≤ 10 ms with either thread setting. "
        "`index MiB` is the serialised index; `RSS Δ` is the process growth while building.\n\n"
        f"{table}\n\n## Every setting measured\n\n{sweep}\n\n"
        f"## Data check (how clustered the synthetic vectors are)\n\n{stats}\n"
    )


def run(sizes: Sequence[int] = DEFAULT_SIZES, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the scale benchmark and write bench/results/scale.{json,md}."""
    import faiss  # heavy import, only when the benchmark runs

    faiss.omp_set_num_threads(THREADS)
    t_start = time.perf_counter()
    load_before = os.getloadavg()[0]
    n_max = max(sizes)
    t0 = time.perf_counter()
    x, assign = clustered_vectors(n_max + N_QUERIES)
    xq, aq = x[n_max:].copy(), assign[n_max:].copy()
    log(f"scale: generated {n_max + N_QUERIES:,} vectors in {time.perf_counter() - t0:.1f} s")
    rows: list[dict[str, Any]] = []
    stats: list[dict[str, Any]] = []
    for n in sorted(sizes):
        size_rows, size_stats = run_size(faiss, x[:n], xq, assign[:n], aq, log)
        rows += size_rows
        stats.append(size_stats)
    del x
    gc.collect()
    payload = base_payload("scale", ["faiss-cpu", "numpy"])
    payload.update(
        {
            "runtime_s": time.perf_counter() - t_start,
            "sizes": sorted(sizes),
            "loadavg": {"before": load_before, "after": os.getloadavg()[0]},
            "data": (
                f"{N_CENTROIDS} Gaussian clusters around {N_TOPICS} topics, rank-"
                f"{SUBSPACE_RANK} within-cluster spread (norm {SUBSPACE_NORM}) + isotropic noise "
                f"(norm {ISO_NORM}), unit-normalised, dim {DIM}, seed {SEED}"
            ),
            "settings": {
                "k": K,
                "threads": THREADS,
                "serve_threads": list(SERVE_THREADS),
                "queries": N_QUERIES,
                "flat_queries": {str(n): flat_queries(n) for n in sizes},
                "hnsw": {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION},
                "ivf": {"nlist": {str(n): ivf_nlist(n) for n in sizes}, "niter": IVF_NITER,
                        "train_points_per_list": IVF_TRAIN_PER_LIST},
                "target": {"recall@10": TARGET_RECALL, "p99_ms": TARGET_P99_MS},
            },
            "rows": rows,
            "data_stats": stats,
            "operating_points": operating_points(rows),
        }
    )
    write_result("scale", payload, render(payload))
    return payload
