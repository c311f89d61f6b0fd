"""`python -m bench english_cal`: fit the English decision models and write
`knowledge_base/search/english_calibration.json` (numbers and provenance only; see
`knowledge_base/search/english_cal.py`).

Data: the English calibration set `knowledge_base/eval/english_dev.yml` (in-scope questions with
their entry, and English out-of-scope lines), written apart from the evaluation `english.yml`,
which is never read here. Each line is searched through the shipped code over the seed KB
(`KnowledgeService.explain`: query understanding, typo correction, adapter, the same features
as the live decision); a hit is any of the labelled ids.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.common import REPO_ROOT, Skip, now_iso, set_threads
from bench.heldout import EVAL_DIR
from bench.realcal import same_fit

DEV_FILE = EVAL_DIR / "english_dev.yml"


def load_dev() -> tuple[list[tuple[str, list[str]]], list[str]]:
    import yaml

    if not DEV_FILE.is_file():
        raise Skip(f"{DEV_FILE.relative_to(REPO_ROOT)} not found")
    data = yaml.safe_load(DEV_FILE.read_text(encoding="utf-8")) or {}
    items = []
    for item in data.get("items") or []:
        label = item["entry_id"]
        items.append((str(item["query"]), [label] if isinstance(label, str)
                      else [str(x) for x in label]))
    return items, [str(x) for x in data.get("oos") or []]


def run(threads: int = 1, log: Callable[[str], None] = print, write: bool = True
        ) -> dict[str, Any]:
    from bench import shipped
    from knowledge_base.content.entries import content_hash
    from knowledge_base.search.english_cal import (
        ENGLISH_CALIBRATION_FILE,
        TARGET_ENGLISH_PRECISION,
        english_document,
    )
    from knowledge_base.search.realcal import fit_real_language

    t0 = time.perf_counter()
    set_threads(threads)
    items, oos = load_dev()
    retrieval = shipped.seed_retrieval()
    service, snap = retrieval.service, retrieval.snapshot
    ids = [e.id for e in snap.entries]
    x_in, c1, c3, groups = [], [], [], []
    for query, expected in items:
        feats, ranked = service.explain(snap, query)
        top = [ids[i] for i in ranked[:3]]
        x_in.append(feats)
        c1.append(bool(top) and top[0] in expected)
        c3.append(bool(set(top) & set(expected)))
        groups.append(snap.by_id[expected[0]])
    x_oos = [service.explain(snap, text)[0] for text in oos]
    # Folds by entry: questions about one entry are not independent samples.
    models, report = fit_real_language(np.array(x_in), np.array(c1), np.array(c3),
                                       np.array(x_oos), target=TARGET_ENGLISH_PRECISION,
                                       groups=np.array(groups))
    provenance = {
        "fitted": now_iso(),
        "by": "python -m bench english_cal",
        "data": {str(DEV_FILE.relative_to(REPO_ROOT)):
                 hashlib.sha256(DEV_FILE.read_bytes()).hexdigest()},
        "kb_content_hash": content_hash(snap.entries),
        "in_scope": len(items),
        "out_of_scope": len(oos),
        "retrieval": retrieval.describe(),
    }
    document = english_document(models, report, provenance)
    if write and not same_fit(document, ENGLISH_CALIBRATION_FILE):
        ENGLISH_CALIBRATION_FILE.write_text(
            json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"english_cal: {len(x_in)} dev queries (hit@1 {np.mean(c1):.3f}, hit@3 "
        f"{np.mean(c3):.3f}), {len(x_oos)} out-of-scope; t_answer {models.t_answer:.3f}, "
        f"t_clarify {models.t_clarify:.3f}; out of fold {json.dumps(report['out_of_fold'])} "
        f"({time.perf_counter() - t0:.0f} s)")
    return document
