"""Shared helpers: paths, machine/version metadata, result files, metrics, timing."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"


class Skip(Exception):
    """A benchmark cannot run here (missing data, model or service); the message says why."""


def data_dir() -> Path:
    """The shared evaluation data: `../shared/data` next to the repo (BENCH_DATA_DIR overrides)."""
    override = os.environ.get("BENCH_DATA_DIR")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "data"


def require_file(path: Path, what: str) -> Path:
    """Return `path` or raise Skip naming what is missing."""
    if not path.is_file():
        raise Skip(f"{what} not found at {path} (evaluation data stays outside the repo)")
    return path


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (or platform.processor())."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total_gb() -> float | None:
    """Physical memory in GiB from /proc/meminfo."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    """Where the numbers were measured."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        usable = os.cpu_count() or 0
    return {
        "nproc": usable,
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "mem_total_gib": mem_total_gb(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }


def versions(dists: Iterable[str]) -> dict[str, str]:
    """Installed versions of the given distributions ("absent" when not installed)."""
    out: dict[str, str] = {}
    for name in dists:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def set_threads(n: int) -> dict[str, int]:
    """Limit torch and faiss to `n` threads in this process; returns what was set.

    On a shared 2-core machine, single-query encoding with 2 torch threads was measured ~10x
    slower than with 1 (threads wait on each other when the other core is busy).
    """
    out: dict[str, int] = {}
    try:
        import torch

        torch.set_num_threads(n)
        out["torch"] = torch.get_num_threads()
    except ImportError:
        pass
    try:
        import faiss

        faiss.omp_set_num_threads(n)
        out["faiss"] = n
    except ImportError:
        pass
    return out


# How many times a bench against a running stack waits out a 429 before it counts an error.
RATE_LIMIT_WAITS = 5


def post_first_turn(client: Any, url: str, body: dict[str, Any],
                    log: Callable[[str], None] | None = None) -> tuple[Any, int]:
    """POST one first turn of a new anonymous visitor; (response, ns of the answered attempt).

    The benches that run against `make run` (e2e, heldout_chat) open a new anonymous visitor
    per line, and `make run` counts those per address (RATE_LIMIT_CHAT_NEW_VISITORS_PER_IP,
    20/minute by default): a 429 is waited out by its Retry-After and the line sent again, so
    a run gets slower, never different. The limit is not lifted for `make run`: a run against
    a stack whose .env raises it is as fast as before. Only the answered attempt is timed.
    """
    waits = 0
    while True:
        t0 = time.perf_counter_ns()
        resp = client.post(url, json=body)
        took = time.perf_counter_ns() - t0
        if resp.status_code != 429 or waits == RATE_LIMIT_WAITS:
            return resp, took
        waits += 1
        wait = float(resp.headers.get("Retry-After") or 1)
        if log is not None:
            log(f"429 (new visitors per address): waiting {wait:.0f} s")
        time.sleep(wait)


def now_iso() -> str:
    """Local time with offset, seconds precision."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def trim_heap() -> None:
    """Return freed heap pages to the OS (glibc), so RSS deltas reflect live memory."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def rss_bytes() -> int:
    """Current resident set size of this process."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):  # pragma: no cover - non-Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub Markdown table; floats are shown with 3 decimals."""

    def cell(value: Any) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def header_md(title: str, payload: dict[str, Any]) -> str:
    """Title plus the date / machine / versions lines every result file starts with."""
    machine = payload["machine"]
    vers = ", ".join(f"{k} {v}" for k, v in payload["versions"].items())
    return (
        f"# {title}\n\n"
        f"- date: {payload['date']}\n"
        f"- machine: {machine['nproc']} usable cores ({machine['cpu_model']}), "
        f"{machine['mem_total_gib']} GiB RAM, Python {machine['python']}\n"
        f"- versions: {vers}\n"
        f"- runtime: {payload.get('runtime_s', 0):.0f} s\n"
    )


def write_result(name: str, payload: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """Write bench/results/<name>.json and <name>.md (atomically via .tmp files)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS_DIR / f"{name}.json"
    md_path = RESULTS_DIR / f"{name}.md"
    for path, text in (
        (json_path, json.dumps(payload, ensure_ascii=False, indent=2, default=_json_default)),
        (md_path, markdown.rstrip() + "\n"),
    ):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return json_path, md_path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def base_payload(name: str, dists: Iterable[str]) -> dict[str, Any]:
    """Common metadata of a result file."""
    return {
        "benchmark": name,
        "date": now_iso(),
        "machine": machine_info(),
        "versions": versions(dists),
    }


# ---------------------------------------------------------------- metrics


def tie_aware_metrics(
    scores: np.ndarray, relevant: Sequence[Sequence[int]], ks: Sequence[int] = (1, 3, 5)
) -> dict[str, float]:
    """hit@k and MRR over full score rows, ties broken uniformly at random (exact expectation).

    `scores` is (queries x documents). For one query let s be the best score of a relevant
    document, g the number of wrong documents scoring above s, e the wrong ones scoring exactly s
    and m the relevant ones scoring s. The first relevant document sits at rank g + P, where P is
    its position in a random order of the e + m tied documents: P(P > j) = prod_{i<j} (e-i)/(e+m-i).
    This neither rewards nor punishes a method for ties (e.g. BM25 rows of zeros when a query
    shares no word with the index); a stable argsort would depend on the index order.
    """
    hits = {k: 0.0 for k in ks}
    rr = 0.0
    for i, rel in enumerate(relevant):
        row = scores[i]
        rel_idx = np.asarray(rel)
        best = row[rel_idx].max()
        mask = np.ones(row.shape[0], dtype=bool)
        mask[rel_idx] = False
        wrong = row[mask]
        g = int(np.count_nonzero(wrong > best))
        e = int(np.count_nonzero(wrong == best))
        m = int(np.count_nonzero(row[rel_idx] == best))
        j = np.arange(e + 1, dtype=np.float64)
        # survival[j] = P(P > j) for j = 0..e (P(P > e) = 0 since some relevant one is tied).
        survival = np.concatenate([[1.0], np.cumprod((e - j[:-1]) / (e + m - j[:-1]))])
        survival = np.append(survival, 0.0)  # index e+1
        p_at = survival[:-1] - survival[1:]  # P(P = j + 1), j = 0..e
        rr += float(np.sum(p_at / (g + np.arange(1, e + 2))))
        for k in ks:
            if k > g:
                hits[k] += 1.0 - float(survival[min(k - g, e + 1)])
    n = len(relevant)
    out = {f"hit@{k}": hits[k] / n for k in ks}
    out["mrr"] = rr / n
    return out


def ranks_from_lists(
    ranked: Sequence[Sequence[Any]], relevant: Sequence[Any], limit: int
) -> np.ndarray:
    """1-based rank of the first relevant label in each ranked list; limit+1 when absent."""
    out = np.full(len(ranked), limit + 1, dtype=np.int64)
    for i, (labels, rel) in enumerate(zip(ranked, relevant, strict=True)):
        rel_set = rel if isinstance(rel, set | frozenset) else {rel}
        for pos, label in enumerate(labels[:limit]):
            if label in rel_set:
                out[i] = pos + 1
                break
    return out


def rank_metrics(ranks: np.ndarray, ks: Sequence[int] = (1, 3, 5)) -> dict[str, float]:
    """hit@k for each k and MRR from first-hit ranks (ranks beyond a cut-off give 0 to MRR;
    a rank of limit+1 from ranks_from_lists counts as a miss there)."""
    out = {f"hit@{k}": float(np.mean(ranks <= k)) for k in ks}
    out["mrr"] = float(np.mean(1.0 / ranks))
    return out


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC via the Mann-Whitney statistic with average ranks for ties (no sklearn needed)."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    i = 0
    n = len(scores)
    while i < n:
        j = i
        while j + 1 < n and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    n_pos = int(labels.sum())
    n_neg = n - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both classes")
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def percentile_ms(samples_ns: Sequence[int] | np.ndarray, q: float) -> float:
    """The q-th percentile of nanosecond samples, in milliseconds."""
    return float(np.percentile(np.asarray(samples_ns, dtype=np.float64), q) / 1e6)
