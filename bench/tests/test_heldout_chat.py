"""How the through-the-bot held-out bench classifies chat replies."""

from __future__ import annotations

import pytest

from bench.heldout_chat import classify


@pytest.mark.parametrize(
    ("reply", "kind", "entry"),
    [
        ({"outcome": "answered", "details": {"kb": {"entry_id": "fee-005"}}},
         "answered right", "fee-005"),
        ({"outcome": "answered", "details": {"kb": {"entry_id": "fee-001"}}},
         "answered wrong", "fee-001"),
        ({"outcome": "clarify", "details": {"kb": {"candidates": [
            {"entry_id": "fee-001"}, {"entry_id": "fee-005"}]}}},
         "clarify, right one offered", "fee-001"),
        ({"outcome": "clarify", "details": {"kb": {"candidates": [{"entry_id": "fee-001"}]}}},
         "clarify, not offered", "fee-001"),
        ({"outcome": "form", "details": {}}, "self-service flow", None),
        ({"outcome": "handoff", "details": {"handoff": {"reason": "fraud"}}}, "handoff", None),
        ({"outcome": "fallback", "details": {"offer_human": False}}, "fallback", None),
        # greeting or small talk: answered, but not from the KB
        ({"outcome": "answered", "details": {}}, "other reply", None),
    ],
)
def test_classify(reply: dict, kind: str, entry: str | None) -> None:
    assert classify(reply, "fee-005") == (kind, entry)


def test_out_of_scope_answer_from_the_kb_counts_as_answered() -> None:
    kind, entry = classify({"outcome": "answered", "details": {"kb": {"entry_id": "cash-002"}}},
                           None)
    assert kind.startswith("answered") and entry == "cash-002"
