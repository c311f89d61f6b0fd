"""The CCB paraphrase benchmarks and the BQ / AFQMC pair sets, built exactly as in
`../shared/data/README.md`. The data is read in place and never copied into the project.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

from bench.common import data_dir, require_file

ROUTING = re.compile("取个号|取号|请说出您需要|请回复")


@dataclass(frozen=True)
class RetrievalSet:
    """Indexed questions grouped into entries (like KB entries), and labelled queries.

    `doc_entry[i]` is the entry of indexed question i: entries 0..n_groups-1 are the paraphrase
    groups, higher ones are distractors (one question each). Questions of one entry are
    contiguous. `entry_answer[e]` is the entry's answer text. `query_entry[j]` is the entry
    query j belongs to; a hit is that entry among the top-ranked entries (an entry ranks by its
    best-matching question, as a KB ranks its entries).
    """

    name: str
    docs: list[str]
    doc_entry: list[int]
    entry_answer: list[str]
    queries: list[str]
    query_entry: list[int]

    @property
    def n_entries(self) -> int:
        """Number of entries (groups + distractors)."""
        return len(self.entry_answer)

    def entry_starts(self) -> list[int]:
        """Index of each entry's first question (docs are grouped by entry)."""
        starts: list[int] = []
        for i, e in enumerate(self.doc_entry):
            if i == 0 or e != self.doc_entry[i - 1]:
                if e != len(starts):
                    raise ValueError("questions must be grouped by entry, entries in order")
                starts.append(i)
        return starts


@dataclass(frozen=True)
class PairSet:
    """Sentence pairs with a same-intent label."""

    name: str
    left: list[str]
    right: list[str]
    labels: list[int]


def _distinct(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def answer_text(raw: str) -> str:
    """Answer as plain text (the files write newlines as <br>)."""
    return re.sub(r"<br\s*/?>", "\n", raw, flags=re.IGNORECASE).strip()


def load_groups_with_answers(root: Path | None = None) -> list[tuple[list[str], str]]:
    """Non-routing paraphrase groups with their shared answer."""
    path = require_file(
        (root or data_dir()) / "ccb_bank_faq" / "paraphrase_groups_bank.jsonl", "CCB groups"
    )
    out: list[tuple[list[str], str]] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            record = json.loads(line)
            if ROUTING.search(record["answer"]):
                continue
            out.append((_distinct(list(record["questions"])), answer_text(record["answer"])))
    return out


def load_banking_questions(root: Path | None = None) -> list[tuple[str, str]]:
    """Distinct questions of qa_all.tsv with bank_kw = 1, in file order, with the answer of
    their first occurrence."""
    path = require_file((root or data_dir()) / "ccb_bank_faq" / "qa_all.tsv", "CCB qa_all.tsv")
    out: dict[str, str] = {}
    with path.open(encoding="utf-8") as fh:
        next(fh)  # header: qid question answer bank_kw
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 4 and parts[3].strip() == "1" and parts[1] not in out:
                out[parts[1]] = answer_text(parts[2])
    return list(out.items())


def ccb_full(root: Path | None = None) -> RetrievalSet:
    """CCB-full: each group's first question + every banking question in no group (~7.9k);
    the other group questions are the queries (~1.38k)."""
    groups = load_groups_with_answers(root)
    in_groups = {q for questions, _ in groups for q in questions}
    docs = [questions[0] for questions, _ in groups]
    doc_entry = list(range(len(groups)))
    answers = [answer for _, answer in groups]
    for question, answer in load_banking_questions(root):
        if question not in in_groups:
            doc_entry.append(len(answers))
            docs.append(question)
            answers.append(answer)
    queries: list[str] = []
    query_entry: list[int] = []
    for g, (questions, _) in enumerate(groups):
        for question in questions[1:]:
            queries.append(question)
            query_entry.append(g)
    return RetrievalSet("CCB-full", docs, doc_entry, answers, queries, query_entry)


def ccb_287(root: Path | None = None) -> RetrievalSet:
    """CCB-287: groups with >= 3 distinct questions; index the first two, query the rest."""
    groups = [(qs, answer) for qs, answer in load_groups_with_answers(root) if len(qs) >= 3]
    docs: list[str] = []
    doc_entry: list[int] = []
    queries: list[str] = []
    query_entry: list[int] = []
    for g, (questions, _) in enumerate(groups):
        for question in questions[:2]:
            docs.append(question)
            doc_entry.append(g)
        for question in questions[2:]:
            queries.append(question)
            query_entry.append(g)
    answers = [answer for _, answer in groups]
    return RetrievalSet("CCB-287", docs, doc_entry, answers, queries, query_entry)


def bq_dev(root: Path | None = None) -> PairSet:
    """BQ Corpus dev: 10,000 pairs, tab-separated `q1 q2 label`, no header."""
    path = require_file((root or data_dir()) / "bq_corpus" / "dev.tsv", "BQ corpus dev.tsv")
    left: list[str] = []
    right: list[str] = []
    labels: list[int] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                continue
            left.append(parts[0])
            right.append(parts[1])
            labels.append(int(parts[2]))
    return PairSet("BQ dev", left, right, labels)


def afqmc_dev(root: Path | None = None) -> PairSet:
    """AFQMC dev: 4,316 pairs, CSV with header `sentence1,sentence2,label`."""
    path = require_file((root or data_dir()) / "afqmc" / "dev.csv", "AFQMC dev.csv")
    left: list[str] = []
    right: list[str] = []
    labels: list[int] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            left.append(row["sentence1"])
            right.append(row["sentence2"])
            labels.append(int(row["label"]))
    return PairSet("AFQMC dev", left, right, labels)
