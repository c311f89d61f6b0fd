"""The linear adapter: when it trains, what it learns, and how the snapshot uses it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from kb_testing import TableEncoder, unit

from knowledge_base.content.entries import Answer, Entry
from knowledge_base.search import adapter as adapter_mod
from knowledge_base.search.adapter import (
    ADAPTER_FILE,
    BLOCKS_FILE,
    Adapter,
    block_spans,
    train_adapter,
)
from knowledge_base.search.encoder import Block
from knowledge_base.search.snapshot import (
    Snapshot,
    dev_rows,
    load_or_build,
    passage_text,
)


def styled_kb(n_entries: int, per_entry: int, dim: int = 32, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Questions = a weak entry signal + a strong "wording style" shared across entries.

    Raw cosine mostly sees the style (how a question is typed), not the entry; paraphrase pairs
    teach the adapter to ignore the style directions.
    """
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((n_entries, dim)))
    styles = unit(rng.standard_normal((4, dim)))
    rows = np.repeat(np.arange(n_entries), per_entry)
    style = styles[rng.integers(0, len(styles), len(rows))] * rng.uniform(0.8, 1.6, (len(rows), 1))
    vecs = unit(0.8 * centres[rows] + style + 0.15 * rng.standard_normal((len(rows), dim)))
    return centres, rows, vecs


def nearest_entry_accuracy(queries: np.ndarray, gold: np.ndarray, kb: np.ndarray,
                           rows: np.ndarray) -> float:
    best = np.argmax(queries @ kb.T, axis=1)
    return float((rows[best] == gold).mean())


def test_small_kbs_get_the_identity() -> None:
    _, rows, vecs = styled_kb(adapter_mod.MIN_ENTRIES - 1, 4)
    identity = train_adapter(vecs, rows)
    assert not identity.trained
    assert np.array_equal(identity.apply(vecs), vecs)
    single = np.repeat(np.arange(40), 1)  # one question per entry: no pairs at all
    assert not train_adapter(unit(np.ones((40, 8))), single).trained


def test_adapter_learns_what_paraphrases_share() -> None:
    _, rows, vecs = styled_kb(60, 10)
    held = np.zeros(len(rows), bool)
    held[np.arange(len(rows)) % 10 >= 8] = True  # 2 paraphrases per entry never trained on
    fitted = train_adapter(vecs[~held], rows[~held])
    assert fitted.trained
    before = nearest_entry_accuracy(vecs[held], rows[held], vecs[~held], rows[~held])
    after = nearest_entry_accuracy(fitted.apply(vecs[held]), rows[held],
                                   fitted.apply(vecs[~held]), rows[~held])
    assert after >= before + 0.15, (before, after)


def test_adapter_is_deterministic_unit_norm_and_persists(tmp_path: Path) -> None:
    _, rows, vecs = styled_kb(30, 5)
    a, b = train_adapter(vecs, rows), train_adapter(vecs, rows)
    assert a.matrix is not None and b.matrix is not None
    assert np.array_equal(a.matrix, b.matrix)
    mapped = a.apply(vecs)
    assert np.allclose(np.linalg.norm(mapped, axis=1), 1.0, atol=1e-5)
    assert a.apply(vecs[0]).shape == vecs[0].shape  # one vector in, one vector out
    a.save(tmp_path)
    loaded = Adapter.load(tmp_path)
    assert loaded.matrix is not None and np.array_equal(loaded.matrix, a.matrix)
    Adapter(None).save(tmp_path)  # an identity adapter leaves no stale file behind
    assert not (tmp_path / ADAPTER_FILE).exists() and not Adapter.load(tmp_path).trained


def test_dev_rows_hold_back_a_quarter_of_each_entrys_similar_questions() -> None:
    rows = np.repeat(np.arange(3), [12, 5, 4])  # 11, 4 and 3 similar questions
    dev = dev_rows(rows)
    starts = {0: 0, 1: 12, 2: 17}
    assert sorted(np.bincount(rows[dev], minlength=3)) == [0, 1, 2]
    assert list(np.bincount(rows[dev], minlength=3)) == [2, 1, 0]
    assert not set(starts.values()) & set(dev.tolist())  # never a standard question
    assert np.array_equal(dev, dev_rows(rows))  # seeded



def test_snapshot_trains_an_adapter_and_calibrates_on_questions_it_never_saw(
        tmp_path: Path) -> None:
    n_entries, per_entry = 40, 9
    centres, rows, vecs = styled_kb(n_entries, per_entry)
    entries, table = [], {}
    for e in range(n_entries):
        texts = [f"条目{e}问法{j}" for j in range(per_entry)]
        entry = Entry(id=f"syn-{e:03d}", category="合成", question=texts[0], similar=texts[1:],
                      answer=Answer(text=f"条目{e}的答案"))
        entries.append(entry)
        for j, text in enumerate(texts):
            table[text] = vecs[e * per_entry + j]
        table[passage_text(entry)] = centres[e]
    oos = [f"闲聊{i}" for i in range(40)]
    encoder = TableEncoder(table, vecs.shape[1], tmp_path)

    artifacts, directory, built = load_or_build(tmp_path / "index", entries, encoder,  # type: ignore[arg-type]
                                                "fake-model", oos)
    assert built and artifacts.adapter.trained and (directory / ADAPTER_FILE).is_file()
    # calibration queries are the held-back similar questions, not leave-one-out over all
    assert artifacts.calibration.report["in_scope_queries"] == len(dev_rows(artifacts.row_entry))
    # raw vectors are kept for the embedding cache; the index lives in the adapted space
    assert np.array_equal(artifacts.qvecs, vecs)
    assert np.allclose(artifacts.index.faiss_index.reconstruct(0), artifacts.adapter.apply(vecs[0]),
                       atol=1e-6)

    again, _, rebuilt = load_or_build(tmp_path / "index", entries, encoder,  # type: ignore[arg-type]
                                      "fake-model", oos)
    assert not rebuilt and again.adapter.matrix is not None
    assert artifacts.adapter.matrix is not None
    assert np.array_equal(again.adapter.matrix, artifacts.adapter.matrix)

    snap = Snapshot(1, entries, again, encoder, directory)  # type: ignore[arg-type]
    vector, raw = snap.encode_query("条目7问法3")
    assert np.array_equal(raw, vecs[7 * per_entry + 3])
    assert np.allclose(vector, again.adapter.apply(raw), atol=1e-6)
    hit = snap.scorer.score_entries(vector, range(n_entries), raw)[0]
    assert hit.entry_index == 7 and hit.raw_max == pytest.approx(1.0, abs=1e-5)


def test_training_stops_when_cancelled() -> None:
    _, rows, vecs = styled_kb(30, 5)
    calls = []

    def cancel() -> None:
        calls.append(1)
        if len(calls) > 2:
            raise RuntimeError("closed")

    with pytest.raises(RuntimeError, match="closed"):
        train_adapter(vecs, rows, cancel=cancel)
    assert len(calls) == 3  # checked every 20 steps, not only at the end


# Two encoder blocks as the product's fused encoder has them, with unequal weights so a block
# scaled by the wrong weight shows up.
FIRST, SECOND = 12, 20
WEIGHTS = (0.25, 0.75)
BLOCKS = (Block(0, FIRST, WEIGHTS[0]), Block(FIRST, FIRST + SECOND, WEIGHTS[1]))
SPANS = ((0, FIRST, WEIGHTS[0]), (FIRST, FIRST + SECOND, WEIGHTS[1]))


def fused_kb(n_entries: int, per_entry: int) -> tuple[np.ndarray, np.ndarray]:
    """Two independent "models" of the same questions, each unit length times sqrt(weight)."""
    _, rows, first = styled_kb(n_entries, per_entry, dim=FIRST, seed=1)
    _, _, second = styled_kb(n_entries, per_entry, dim=SECOND, seed=2)
    vecs = np.hstack([first * np.sqrt(WEIGHTS[0]), second * np.sqrt(WEIGHTS[1])])
    return rows, vecs.astype(np.float32)


def test_block_training_gives_a_block_diagonal_matrix() -> None:
    rows, vecs = fused_kb(30, 5)
    fitted = train_adapter(vecs, rows, blocks=BLOCKS, steps=60)
    assert fitted.trained and fitted.matrix is not None
    assert fitted.blocks == SPANS
    m = fitted.matrix
    assert m.shape == (FIRST + SECOND, FIRST + SECOND)
    assert not m[:FIRST, FIRST:].any() and not m[FIRST:, :FIRST].any()  # exactly zero
    for start, stop, _ in SPANS:  # each diagonal block was actually trained
        assert not np.allclose(m[start:stop, start:stop], np.eye(stop - start), atol=1e-3)
    # each block is fitted on its own slice, as a single-block adapter would be
    alone = train_adapter(vecs[:, FIRST:], rows, steps=60)
    assert alone.matrix is not None and alone.blocks is None
    assert np.allclose(m[FIRST:, FIRST:], alone.matrix, atol=1e-6)


def test_block_adapter_weights_each_block() -> None:
    rows, vecs = fused_kb(30, 5)
    fitted = train_adapter(vecs, rows, blocks=BLOCKS, steps=60)
    mapped = fitted.apply(vecs)
    assert mapped.shape == vecs.shape and mapped.dtype == np.float32
    for (start, stop, weight) in SPANS:
        assert np.allclose(np.linalg.norm(mapped[:, start:stop], axis=1), np.sqrt(weight),
                           atol=1e-5)
    assert np.allclose(np.linalg.norm(mapped, axis=1), 1.0, atol=1e-5)
    # the fused similarity keeps its meaning: weighted mean of the per-block cosines
    a, b = mapped[0], mapped[7]
    per_block = [float(a[s:e] @ b[s:e]) / w for s, e, w in SPANS]
    assert float(a @ b) == pytest.approx(sum(w * c for (_, _, w), c in zip(SPANS, per_block,
                                                                            strict=True)),
                                         abs=1e-6)
    assert np.allclose(fitted.apply(vecs[3]), mapped[3], atol=1e-6)  # one vector in, one out
    # primary() is the raw first block, not the adapted one
    raw_first = unit(vecs[:, :FIRST])
    assert np.allclose(fitted.primary(vecs), raw_first, atol=1e-6)
    assert not np.allclose(fitted.primary(vecs), unit(mapped[:, :FIRST]), atol=1e-3)


def test_block_adapter_save_load_roundtrip(tmp_path: Path) -> None:
    rows, vecs = fused_kb(30, 5)
    fitted = train_adapter(vecs, rows, blocks=BLOCKS, steps=60)
    assert fitted.matrix is not None
    fitted.save(tmp_path)
    assert (tmp_path / ADAPTER_FILE).is_file() and (tmp_path / BLOCKS_FILE).is_file()
    loaded = Adapter.load(tmp_path)
    assert loaded.matrix is not None and np.array_equal(loaded.matrix, fitted.matrix)
    assert loaded.blocks == SPANS
    assert np.array_equal(loaded.apply(vecs), fitted.apply(vecs))
    assert np.array_equal(loaded.primary(vecs), fitted.primary(vecs))

    # an untrained adapter keeps its blocks and leaves no stale matrix behind
    untrained = Adapter(None, SPANS)
    untrained.save(tmp_path)
    assert not (tmp_path / ADAPTER_FILE).exists()
    reloaded = Adapter.load(tmp_path)
    assert not reloaded.trained and reloaded.blocks == SPANS
    assert reloaded.apply(vecs).shape == (len(vecs), FIRST)

    # and a block-less adapter removes the blocks file
    Adapter(None).save(tmp_path)
    assert not (tmp_path / BLOCKS_FILE).exists()
    assert Adapter.load(tmp_path).blocks is None


def test_untrained_block_adapter_keeps_the_first_block_only() -> None:
    rows, vecs = fused_kb(adapter_mod.MIN_ENTRIES - 1, 4)
    untrained = train_adapter(vecs, rows, blocks=BLOCKS)
    assert not untrained.trained and untrained.blocks == SPANS
    mapped = untrained.apply(vecs)
    assert mapped.shape == (len(vecs), FIRST) and mapped.dtype == np.float32
    assert np.allclose(np.linalg.norm(mapped, axis=1), 1.0, atol=1e-5)
    assert np.allclose(mapped, vecs[:, :FIRST] / np.sqrt(WEIGHTS[0]), atol=1e-5)
    assert np.array_equal(mapped, untrained.primary(vecs))
    assert untrained.apply(vecs[2]).shape == (FIRST,)
    assert np.allclose(untrained.apply(vecs[2]), mapped[2], atol=1e-6)
    assert untrained.apply(np.zeros((0, FIRST + SECOND), np.float32)).shape == (0, FIRST)


def test_primary_of_a_single_block_adapter_is_the_identity() -> None:
    _, rows, vecs = styled_kb(30, 5)
    fitted = train_adapter(vecs, rows, steps=20)
    assert fitted.trained and fitted.blocks is None
    assert np.array_equal(fitted.primary(vecs), vecs)
    assert np.array_equal(Adapter(None).primary(vecs), vecs)
    assert np.array_equal(Adapter(None).apply(vecs), vecs)
    # one block covering the whole vector is also a single-block adapter
    assert train_adapter(vecs, rows, steps=20, blocks=[Block(0, 32, 1.0)]).blocks is None


@pytest.mark.parametrize("blocks", [
    [(0, 10, 0.5), (12, 32, 0.5)],  # gap
    [(0, 14, 0.5), (12, 32, 0.5)],  # overlap
    [(2, 12, 0.5), (12, 32, 0.5)],  # does not start at 0
    [(0, 12, 0.5), (12, 30, 0.5)],  # stops short of the vector
    [(0, 12, 0.5), (12, 40, 0.5)],  # runs past it
])
def test_block_spans_rejects_blocks_that_do_not_tile(blocks: list[tuple[int, int, float]]
                                                     ) -> None:
    with pytest.raises(ValueError, match="do not tile"):
        block_spans(blocks, 32)
    _, rows, vecs = styled_kb(30, 5)
    with pytest.raises(ValueError, match="do not tile"):
        train_adapter(vecs, rows, blocks=blocks)


def test_block_spans_accepts_blocks_and_tuples() -> None:
    assert block_spans(BLOCKS, FIRST + SECOND) == SPANS
    assert block_spans([list(s) for s in SPANS], FIRST + SECOND) == SPANS
    assert block_spans(None, 7) == ((0, 7, 1.0),)
