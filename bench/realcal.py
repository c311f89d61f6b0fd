"""`python -m bench realcal`: fit the real-language decision models and write
`knowledge_base/search/calibration.json` (numbers and provenance only; see
`knowledge_base/search/realcal.py`).

Data: CCB-287 (`bench/ccb_data.ccb_287`, read in place from `../shared/data`), the **dev** half
of its groups (`bench.ccb_policy.split_groups`); the test half is never used here. The KB is
made of the CCB standard questions and searched through the shipped code with the CCB's own
bank names (`ccb_policy.CCB_BANK_NAMES`); out-of-scope negatives are the NLU out-of-scope
examples the build uses too.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench import ccb_data, ccb_policy
from bench.common import data_dir, now_iso, set_threads


def _sha256(path: Any) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def same_fit(document: dict[str, Any], path: Any) -> bool:
    """True when ``path`` already holds this fit (only the fitting date differs): a rerun of
    `make bench` leaves the committed file alone."""
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False

    def strip(doc: dict[str, Any]) -> str:
        rest = {k: v for k, v in doc.items() if k != "provenance"}
        prov = {k: v for k, v in doc.get("provenance", {}).items() if k != "fitted"}
        return json.dumps([rest, prov], sort_keys=True)

    return strip(old) == strip(json.loads(json.dumps(document)))


def run(threads: int = 1, log: Callable[[str], None] = print, write: bool = True
        ) -> dict[str, Any]:
    from bench import shipped
    from knowledge_base.search.realcal import (
        CALIBRATION_FILE,
        calibration_document,
        fit_real_language,
    )
    from knowledge_base.search.retrieval import load_out_of_scope
    from knowledge_base.search.service import NLU_DIR

    t0 = time.perf_counter()
    set_threads(threads)
    rs = ccb_data.ccb_287()
    dev = ccb_policy.split_groups(rs.n_entries)
    oos = load_out_of_scope(NLU_DIR)
    retrieval = shipped.ShippedRetrieval(shipped.ccb_entries(rs), oos,
                                         bank_names=ccb_policy.CCB_BANK_NAMES)
    service, snap = retrieval.service, retrieval.snapshot
    x_in, c1, c3, groups = [], [], [], []
    for query, entry in zip(rs.queries, rs.query_entry, strict=True):
        if not dev[entry]:
            continue
        feats, ranked = service.explain(snap, query)
        x_in.append(feats)
        groups.append(entry)
        c1.append(ranked[:1] == [entry])
        c3.append(entry in ranked[:3])
    x_oos = [service.explain(snap, text)[0] for text in oos]
    # Folds by group: a group's paraphrases are not independent samples.
    real, report = fit_real_language(np.array(x_in), np.array(c1), np.array(c3),
                                     np.array(x_oos), groups=np.array(groups))
    root = data_dir()
    provenance = {
        "fitted": now_iso(),
        "by": "python -m bench realcal",
        "data": {str(p.relative_to(root)): _sha256(p) for p in
                 (root / "ccb_bank_faq" / "paraphrase_groups_bank.jsonl",)},
        "recipe": "CCB-287 (../shared/data/README.md); dev half of the groups by "
                  f"bench.ccb_policy.split_groups(seed={ccb_policy.SPLIT_SEED}); KB = the "
                  "groups' first two questions; bank names "
                  f"{ccb_policy.CCB_BANK_NAMES!r}; out-of-scope = NLU out_of_scope + chitchat",
        "dev_groups": int(dev.sum()),
        "test_groups": int((~dev).sum()),
        "retrieval": retrieval.describe(),
    }
    document = calibration_document(real, report, provenance)
    if write and not same_fit(document, CALIBRATION_FILE):
        CALIBRATION_FILE.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    log(f"realcal: {len(x_in)} dev queries, {len(x_oos)} out-of-scope; t_answer "
        f"{real.t_answer:.3f}, t_clarify {real.t_clarify:.3f}; out of fold "
        f"{json.dumps(report['out_of_fold'])} ({time.perf_counter() - t0:.0f} s)")
    return document
