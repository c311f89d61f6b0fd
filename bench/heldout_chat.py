"""The held-out set through the running bot: `POST /api/v1/chat`, so NLU, dialogue rules, forms,
the action server and retrieval all take part (bench/heldout.py calls retrieval in process).

Each held-out paraphrase and out-of-scope line is the first turn of a new conversation (user id
`bench-heldout-<run>-<i>`). The reply's outcome and KB details are classified:

- answered from the KB with the labelled entry (right) or another entry (wrong);
- clarify, with or without the labelled entry among the options;
- a self-service flow started (outcome `form`: NLU read the question as "do it for me", e.g.
  查账单 starts the bill flow rather than explaining it) — listed, counted apart;
- handoff to a human (fraud, complaints), fallback, or an answer not from the KB.

Out-of-scope lines pass when they are not answered from the KB. Conversations that ended in the
human queue are cancelled afterwards so the run leaves no queue behind. The in-process figures
of the same labels (bench/results/heldout.json) are put side by side when present.
Skips with a message when the stack is not reachable.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.common import (
    RESULTS_DIR,
    base_payload,
    header_md,
    md_table,
    post_first_turn,
    write_result,
)
from bench.e2e import TIMEOUT_S, check_up, endpoints
from bench.heldout import EVAL_DIR, load_items

KINDS = ("answered right", "answered wrong", "clarify, right one offered", "clarify, not offered",
         "self-service flow", "handoff", "fallback", "other reply")
HUMAN_OUTCOMES = {"handoff", "agent", "ticket"}


def classify(reply: dict[str, Any], expected: str | None) -> tuple[str, str | None]:
    """(kind, entry id the bot answered or first offered) of one chat reply."""
    outcome = reply.get("outcome")
    kb = (reply.get("details") or {}).get("kb") or {}
    if outcome == "answered" and kb.get("entry_id"):
        entry = str(kb["entry_id"])
        return ("answered right" if entry == expected else "answered wrong"), entry
    if outcome == "clarify":
        offered = [str(c.get("entry_id")) for c in kb.get("candidates") or []]
        first = offered[0] if offered else None
        right = expected in offered
        return ("clarify, right one offered" if right else "clarify, not offered"), first
    if outcome == "form":
        return "self-service flow", None
    if outcome in HUMAN_OUTCOMES:
        return "handoff", None
    if outcome == "fallback":
        return "fallback", None
    return "other reply", None


def reason(reply: dict[str, Any]) -> str | None:
    """Why the bot fell back or handed over (`no_card_account`, `complaint`, `fraud`, ...)."""
    details = reply.get("details") or {}
    handoff = details.get("handoff") or {}
    return details.get("reason") or handoff.get("reason")


def rates(kinds: Counter[str], n: int) -> dict[str, float]:
    return {k: kinds.get(k, 0) / n if n else 0.0 for k in KINDS}


def in_process() -> dict[str, Any] | None:
    """The latest in-process held-out figures (bench/results/heldout.json), if any."""
    path = RESULTS_DIR / "heldout.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return {"overall": data.get("overall"), "date": data.get("date")}


def run(log: Callable[[str], None] = print) -> dict[str, Any]:
    """Send every held-out and out-of-scope line through the chat API; write
    bench/results/heldout_chat.{json,md}."""
    import httpx

    t_start = time.perf_counter()
    heldout = load_items(EVAL_DIR / "heldout.yml")
    oos = [line if isinstance(line, str) else str(line.get("query", ""))
           for line in load_items(EVAL_DIR / "oos.yml")]
    urls = endpoints()
    run_id = uuid.uuid4().hex[:8]
    rows: list[dict[str, Any]] = []
    oos_rows: list[dict[str, Any]] = []
    queued: list[tuple[str, str]] = []  # (conversation id, its token)
    errors: Counter[str] = Counter()
    with httpx.Client(timeout=TIMEOUT_S) as client:
        info = check_up(client, urls)

        def chat(i: int, text: str) -> dict[str, Any] | None:
            body = {"user_id": f"bench-heldout-{run_id}-{i}", "text": text, "channel": "web"}
            try:
                resp, _ = post_first_turn(client, f"{urls['api']}/api/v1/chat", body, log)
                resp.raise_for_status()
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                return None
            reply: dict[str, Any] = resp.json()
            if (reply.get("details") or {}).get("state") == "queued":
                queued.append((str(reply["conversation_id"]), str(reply["conversation_token"])))
            return reply

        log(f"heldout-chat: {len(heldout)} in-scope and {len(oos)} out-of-scope lines "
            f"through {urls['api']}/api/v1/chat")
        for i, item in enumerate(heldout):
            reply = chat(i, str(item["query"]))
            if reply is None:
                continue
            kind, got = classify(reply, str(item["entry_id"]))
            rows.append({"query": item["query"], "expected": item["entry_id"],
                         "outcome": reply.get("outcome"), "kind": kind, "entry": got,
                         "reason": reason(reply)})
        for j, text in enumerate(oos):
            reply = chat(len(heldout) + j, text)
            if reply is None:
                continue
            kind, got = classify(reply, None)
            oos_rows.append({"query": text, "outcome": reply.get("outcome"), "kind": kind,
                             "entry": got, "reason": reason(reply)})
        cancelled = 0
        for cid, token in queued:  # leave no bench conversation waiting in the human queue
            try:
                client.post(f"{urls['api']}/api/v1/chat/{cid}/cancel",
                            headers={"Authorization": f"Bearer {token}"}).raise_for_status()
                cancelled += 1
            except httpx.HTTPError as exc:
                errors[f"cancel: {type(exc).__name__}"] += 1

    kinds = Counter(r["kind"] for r in rows)
    n = len(rows)
    summary = rates(kinds, n)
    summary["resolved by the KB"] = (summary["answered right"]
                                     + summary["clarify, right one offered"])
    oos_answered = [r for r in oos_rows if r["kind"].startswith("answered")]
    payload = base_payload("heldout_chat", ["httpx"])
    payload.update(
        {
            "runtime_s": time.perf_counter() - t_start,
            "urls": urls,
            "stack": info,
            "n": n,
            "counts": dict(kinds),
            "reasons": {k: dict(Counter(r["reason"] for r in rows if r["kind"] == k))
                        for k in ("fallback", "handoff")},
            "rates": summary,
            "oos": {"n": len(oos_rows),
                    "not_answered_from_kb": 1 - len(oos_answered) / len(oos_rows)
                    if oos_rows else 0.0,
                    "outcomes": dict(Counter(r["outcome"] for r in oos_rows))},
            "in_process": in_process(),
            "errors": dict(errors),
            "cancelled_after_run": cancelled,
            "flows": [r for r in rows if r["kind"] == "self-service flow"],
            "misses": [r for r in rows if r["kind"] not in ("answered right",
                                                            "clarify, right one offered")],
            "oos_answered": oos_answered,
        }
    )
    log(f"heldout-chat: answered right {summary['answered right']:.3f}, resolved by the KB "
        f"{summary['resolved by the KB']:.3f}, flows {summary['self-service flow']:.3f}, "
        f"OOS not answered {payload['oos']['not_answered_from_kb']:.3f}")
    write_result("heldout_chat", payload, render(payload))
    return payload


def render(payload: dict[str, Any]) -> str:
    """Markdown report."""
    r = payload["rates"]
    text = header_md("Held-out set through the running bot (`POST /api/v1/chat`)", payload)
    text += (
        f"- {payload['n']} held-out paraphrases and {payload['oos']['n']} out-of-scope lines, "
        "each the first turn of a new conversation\n"
        f"- requests that failed: {payload['errors'] or 'none'}; queued conversations cancelled "
        f"after the run: {payload['cancelled_after_run']}\n\n"
        + md_table(["reply", "share of held-out queries"], [[k, r[k]] for k in KINDS])
        + f"\n\nWhy: {payload['reasons']}.\n\n"
        "Resolved by the KB (answered right + clarify with the right one offered): "
        f"**{r['resolved by the KB']:.3f}**. Out-of-scope lines not answered from the KB: "
        f"**{payload['oos']['not_answered_from_kb']:.3f}** ({payload['oos']['outcomes']}).\n"
    )
    ref = payload.get("in_process")
    if ref and ref.get("overall"):
        o = ref["overall"]
        text += (
            f"\nSame labels in process (bench/results/heldout.json, {ref['date']}): answered right "
            f"{o['answered_correct_rate']:.3f}, resolved {o['resolved_rate']:.3f}; through the bot "
            f"answered right {r['answered right']:.3f} "
            f"(×{r['answered right'] / o['answered_correct_rate']:.2f}), resolved by the KB "
            f"{r['resolved by the KB']:.3f} "
            f"(×{r['resolved by the KB'] / o['resolved_rate']:.2f}).\n"
        )
    if payload["flows"]:
        text += "\nQueries that started a self-service flow:\n\n" + "\n".join(
            f"- {f['query']} (label {f['expected']})" for f in payload["flows"]) + "\n"
    misses = [m for m in payload["misses"] if m["kind"] != "self-service flow"]
    if misses:
        lines = []
        for m in misses:
            why = f" [{m['reason']}]" if m.get("reason") else ""
            got = f"{m['entry']}, " if m["entry"] else ""
            lines.append(f"- {m['query']}: {m['kind']}{why} ({got}label {m['expected']})")
        text += "\nOther queries not resolved by the KB:\n\n" + "\n".join(lines) + "\n"
    if payload["oos_answered"]:
        text += "\nOut-of-scope lines answered from the KB:\n\n" + "\n".join(
            f"- {m['query']} → {m['entry']}" for m in payload["oos_answered"]) + "\n"
    return text
