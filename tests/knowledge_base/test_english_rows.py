"""An entry's English title (`question_en`) is a searchable question row (issue 19): English
queries meet an English phrasing of the entry, and entries without one keep their rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from kb_testing import TableEncoder, unit

from knowledge_base.content.entries import Entry, content_hash
from knowledge_base.search.snapshot import (
    Snapshot,
    dev_rows,
    load_or_build,
    passage_text,
    question_rows,
    title_rows,
)

TITLE = "How do I report a lost card?"


def entry(i: int = 0, **over: object) -> Entry:
    data: dict[str, object] = {
        "id": f"t-{i:03d}", "category": "测试", "question": f"测试问题{i}怎么办",
        "similar": [f"测试{i}问法{j}" for j in range(8)], "answer": {"text": f"答案{i}"}}
    data.update(over)
    return Entry.model_validate(data)



def test_the_title_is_the_last_row_and_never_a_repeat() -> None:
    plain, titled = entry(0), entry(1, question_en=TITLE)
    assert plain.search_questions == plain.questions
    assert titled.search_questions == [*titled.questions, TITLE]
    assert titled.search_questions[0] == titled.question  # the standard question stays first
    # A title that is one of the entry's questions (up to case/punctuation) is not indexed twice.
    same = entry(2, similar=["lost card help", "测试2问法1", "测试2问法2", "测试2问法3"],
                 question_en="Lost card, help!")
    assert same.search_questions == same.questions

    questions, rows = question_rows([plain, titled])
    assert questions == [*plain.questions, *titled.questions, TITLE]
    assert rows.tolist() == [0] * 9 + [1] * 10
    assert title_rows([plain, titled]).tolist() == [False] * 18 + [True]


def test_an_entry_without_a_title_keeps_its_rows_and_fingerprint() -> None:
    plain = entry(0)
    questions, rows = question_rows([plain])
    assert questions == [plain.question, *plain.similar] and rows.tolist() == [0] * 9
    # The fingerprint (so the content hash and the index cache key) of an entry without English
    # is the one it had before question_en existed.
    legacy = Entry.model_validate({"id": "t-001", "category": "测试", "question": "测试问题怎么办",
                                   "similar": ["测试一", "测试二", "测试三", "测试四"],
                                   "answer": {"text": "答案"}})
    assert legacy.fingerprint() == \
        "d40236463d72bd99d1251716c9a9c3fb51e0270d313364c75d94f3e14f037c70"
    assert content_hash([plain]) != content_hash([entry(0, question_en=TITLE)])


def test_titles_are_never_held_back_and_the_other_draws_are_unchanged() -> None:
    before = np.repeat(np.arange(3), [12, 5, 4])
    after = np.repeat(np.arange(3), [13, 6, 5])  # one title row appended to each entry
    titles = np.zeros(len(after), bool)
    titles[[12, 18, 23]] = True
    dev = dev_rows(after, titles=titles)
    assert not titles[dev].any()
    # Same similar questions drawn as before the titles existed (rows shifted by the titles).
    shift = np.cumsum(titles)[dev] - titles[dev]
    assert np.array_equal(dev - shift, dev_rows(before))



def test_an_english_query_finds_its_entry_through_the_title(tmp_path: Path) -> None:
    # The English title points somewhere the entry's Chinese questions do not (as English text
    # sits apart from Chinese in the encoders' space): only its own row can bring the query home.
    rng = np.random.default_rng(3)
    dim, n = 32, 40
    centres = unit(rng.standard_normal((n, dim)))
    table: dict[str, np.ndarray] = {}
    entries = []
    for i in range(n):
        e = entry(i, question_en=TITLE if i == 7 else None)
        entries.append(e)
        for q in e.questions:
            table[q] = unit(centres[i] + 0.3 * rng.standard_normal(dim))
        table[passage_text(e)] = centres[i]
    english = unit(rng.standard_normal(dim))
    table[TITLE] = english
    query = "I lost my credit card, what now"
    table[query] = unit(english + 0.05 * rng.standard_normal(dim))
    encoder = TableEncoder(table, dim, tmp_path)

    artifacts, directory, _ = load_or_build(tmp_path / "index", entries, encoder,  # type: ignore[arg-type]
                                            "fake-model", [f"闲聊{i}" for i in range(40)])
    assert TITLE in artifacts.questions
    snap = Snapshot(1, entries, artifacts, encoder, directory)  # type: ignore[arg-type]
    vector, raw = snap.encode_query(query)
    row = int(snap.search_rows(vector, 1)[0])
    assert artifacts.questions[row] == TITLE and int(artifacts.row_entry[row]) == 7
    assert snap.scorer.score_entries(vector, range(n), raw)[0].entry_index == 7
