"""Flat combining of concurrent encode calls (knowledge_base/search/combining.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from knowledge_base.search.combining import Combiner


class SlowModel:
    """One row per text: [len(text), call number]; each call takes `delay` seconds and must
    never overlap another (the real encoders' tokenizers are not thread-safe)."""

    def __init__(self, delay: float = 0.05, fail_on: str | None = None) -> None:
        self.delay = delay
        self.fail_on = fail_on
        self.calls: list[list[str]] = []
        self.active = 0
        self.overlapped = False

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.active += 1
        self.overlapped |= self.active > 1
        try:
            time.sleep(self.delay)
            self.calls.append(list(texts))
            if self.fail_on is not None and self.fail_on in texts:
                raise RuntimeError("model failed")
            return np.array([[len(t), len(self.calls)] for t in texts], dtype=np.float32)
        finally:
            self.active -= 1


def _concurrently(combiner: Combiner, requests: list[list[str]]) -> list[object]:
    results: list[object] = [None] * len(requests)
    start = threading.Barrier(len(requests))

    def go(i: int) -> None:
        start.wait()
        try:
            results[i] = combiner(requests[i])
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads), "a caller never got its result"
    return results


def test_a_lone_call_runs_at_once_and_alone() -> None:
    model = SlowModel(delay=0.0)
    combiner = Combiner(model)
    out = combiner(["一二三"])
    assert out.tolist() == [[3.0, 1.0]]
    assert model.calls == [["一二三"]]


def test_concurrent_calls_share_model_calls_and_each_gets_its_own_rows() -> None:
    model = SlowModel(delay=0.05)
    combiner = Combiner(model, max_texts=16)
    requests = [["x" * (i + 1)] for i in range(12)] + [["ab", "abc"]]
    results = _concurrently(combiner, requests)
    for request, rows in zip(requests, results, strict=True):
        assert isinstance(rows, np.ndarray)
        assert rows[:, 0].tolist() == [len(t) for t in request]
    assert not model.overlapped
    assert sum(len(c) for c in model.calls) == 14  # every text encoded exactly once
    assert len(model.calls) < len(requests)  # and some of them together
    assert combiner.requests == len(requests) and combiner.runs == len(model.calls)


def test_batches_respect_max_texts() -> None:
    model = SlowModel(delay=0.05)
    combiner = Combiner(model, max_texts=3)
    results = _concurrently(combiner, [["a"]] * 10 + [["a"] * 5])
    assert all(isinstance(r, np.ndarray) for r in results)
    # the long request runs alone; the others in batches of at most 3
    assert all(len(c) <= 3 or c == ["a"] * 5 for c in model.calls)


def test_a_failing_model_call_fails_every_request_of_its_batch_and_nothing_hangs() -> None:
    model = SlowModel(delay=0.05, fail_on="boom")
    combiner = Combiner(model)
    results = _concurrently(combiner, [["ok"]] * 6 + [["boom"]])
    failed = [r for r in results if isinstance(r, RuntimeError)]
    assert isinstance(results[-1], RuntimeError)
    batch_with_boom = next(c for c in model.calls if "boom" in c)
    assert len(failed) == len(batch_with_boom)
    # the combiner keeps serving afterwards
    assert combiner(["again"]).tolist() == [[5.0, len(model.calls)]]


def test_a_model_returning_the_wrong_row_count_is_an_error() -> None:
    combiner = Combiner(lambda texts: np.zeros((len(texts) + 1, 2)))
    with pytest.raises(ValueError, match="rows"):
        combiner(["a"])
