"""The evaluation sets under knowledge_base/eval: sizes, existing labels, independence, audit."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
import yaml

from knowledge_base.content.entries import load_seed

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "knowledge_base" / "eval"


def norm(text: str) -> str:
    """Compare texts without width, case, spaces or punctuation differences."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if ch.isalnum())


@pytest.fixture(scope="module")
def seed():
    return load_seed(ROOT / "knowledge_base" / "seed")


@pytest.fixture(scope="module")
def heldout() -> list[dict]:
    return yaml.safe_load((EVAL / "heldout.yml").read_text(encoding="utf-8"))["items"]


@pytest.fixture(scope="module")
def oos() -> list[str]:
    return yaml.safe_load((EVAL / "oos.yml").read_text(encoding="utf-8"))["items"]


def test_sizes_meet_the_issue(heldout, oos):
    assert len(heldout) >= 300
    assert len(oos) >= 60
    assert len({item["query"] for item in heldout}) == len(heldout), "duplicate held-out query"


def test_every_label_is_a_seed_entry(seed, heldout):
    ids = {entry.id for entry in seed}
    assert {item["entry_id"] for item in heldout} <= ids


def test_audited_labels_record_a_different_former_label(seed, heldout):
    ids = {entry.id for entry in seed}
    audited = [item for item in heldout if "label_before_audit" in item]
    assert audited, "the audit's corrections are recorded"
    for item in audited:
        assert item["label_before_audit"] in ids
        assert item["label_before_audit"] != item["entry_id"], item["query"]


def test_no_eval_line_is_a_kb_question(seed, heldout, oos):
    # The sets measure paraphrase matching: a query copied from the KB would test recall only.
    kb = {norm(q) for entry in seed for q in (entry.question, *entry.similar)}
    copied = [item["query"] for item in heldout if norm(item["query"]) in kb]
    copied += [line for line in oos if norm(line) in kb]
    assert not copied, copied


def test_labels_follow_the_blind_audit_rule(heldout):
    # A label differs from its pre-audit value exactly when both annotators named the same other
    # entry (as best or alternative), and then it is the first annotator's pick.
    rows = [line.split("\t") for line in
            (EVAL / "label_audit_2026-11-23.tsv").read_text(encoding="utf-8").splitlines()
            if line and not line.startswith(("#", "qid\t"))]
    label = {item["query"]: item["entry_id"] for item in heldout}
    assert len(rows) == len(heldout) and {r[1] for r in rows} == set(label)
    for _qid, query, before, a_best, a_alt, _ac, b_best, b_alt, _bc in rows:
        a, b = {a_best, a_alt} - {""}, {b_best, b_alt} - {""}
        both_elsewhere = before not in a and before not in b and a_best in b
        assert label[query] == (a_best if both_elsewhere else before), query


# ---- the English set (issue 19)

@pytest.fixture(scope="module")
def english() -> dict:
    return yaml.safe_load((EVAL / "english.yml").read_text(encoding="utf-8"))


def test_english_set_sizes_and_labels(seed, english):
    ids = {entry.id for entry in seed}
    items = english["items"]
    assert len(items) >= 150 and len(english["oos"]) >= 30
    assert len({norm(i["query"]) for i in items}) == len(items), "duplicate English query"
    for item in items:
        label = item["entry_id"]
        labels = [label] if isinstance(label, str) else label
        assert labels and all(x in ids or x == "none" for x in labels), item


def test_english_set_is_not_in_the_kb(seed, english):
    """Written apart from the KB: no English query is one of the KB's questions."""
    kb = {norm(q) for entry in seed for q in entry.search_questions}
    leaked = [i["query"] for i in english["items"] if norm(i["query"]) in kb]
    leaked += [q for q in english["oos"] if norm(q) in kb]
    assert leaked == []


def test_english_answers_cover_the_most_asked_categories(seed):
    with_en = [e for e in seed if e.answer_en]
    assert len(with_en) >= 80
    categories = {e.category for e in with_en}
    for needed in ("挂失/冻结/补卡/换卡", "额度", "年费与减免", "还款方式/还款日/最低还款",
                   "积分", "分期"):
        assert needed in categories, needed
    for entry in with_en:
        assert entry.answer_en.isascii() or "¥" in entry.answer_en, entry.id


def test_english_calibration_set_is_apart_from_the_eval_and_the_kb(seed, english):
    """english_dev.yml fits the English decision models: it must share no line with the
    evaluation (else the reported figures would be fitted) nor be the KB's own questions."""
    dev = yaml.safe_load((EVAL / "english_dev.yml").read_text(encoding="utf-8"))
    ids = {e.id for e in seed}
    for item in dev["items"]:
        labels = [item["entry_id"]] if isinstance(item["entry_id"], str) else item["entry_id"]
        assert labels and all(x in ids for x in labels), item
    assert len(dev["items"]) >= 150 and len(dev["oos"]) >= 30
    dev_lines = {norm(i["query"]) for i in dev["items"]} | {norm(q) for q in dev["oos"]}
    eval_lines = {norm(i["query"]) for i in english["items"]} | {norm(q) for q in english["oos"]}
    kb = {norm(q) for entry in seed for q in entry.search_questions}
    assert dev_lines & eval_lines == set()
    assert dev_lines & kb == set()
