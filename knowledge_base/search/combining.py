"""Batch the small encode calls of concurrent requests into one model call (flat combining).

Each encoder runs one call at a time (its tokenizer is not thread-safe), so concurrent searches
queue for the model anyway. A transformer encodes a batch of short questions for much less than
the sum of single calls (e5-small on one core: ~2x cheaper per question at 4-8 questions), so the
thread that gets the model next encodes every question waiting at that moment in one call and
hands each caller its rows. Nothing waits for a batch to fill: a lone request is encoded at once,
as before, and only requests that would have queued anyway are combined.

A leader/follower protocol without a thread of its own: a caller that finds the model free
becomes the leader and runs batches until its own request is done; the others wait for their
result, and one of them leads when the leader leaves while requests are still queued.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(eq=False)
class _Pending:
    texts: Sequence[str]
    result: np.ndarray | None = None
    error: BaseException | None = None
    done: bool = field(default=False)


class Combiner:
    """``combiner(texts)`` returns ``run(texts)``; calls made while another is running are
    combined into one ``run`` of at most ``max_texts`` texts (a longer request runs alone).
    ``run`` must return one row per text, in order."""

    def __init__(self, run: Callable[[Sequence[str]], np.ndarray], max_texts: int = 16) -> None:
        self._run = run
        self.max_texts = max_texts
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._busy = False
        # counters for benchmarks and tests: model calls made, requests served
        self.runs = 0
        self.requests = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        mine = _Pending(texts)
        with self._cond:
            self._queue.append(mine)
            while self._busy and not mine.done:
                self._cond.wait()
            if not mine.done:
                self._busy = True  # this thread leads until its own request is done
        if not mine.done:
            self._lead(mine)
        if mine.error is not None:
            raise mine.error
        assert mine.result is not None
        return mine.result

    def _lead(self, mine: _Pending) -> None:
        try:
            while not mine.done:
                with self._cond:
                    batch = self._take()
                self._serve(batch)
                with self._cond:
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()  # a queued caller takes over as the leader

    def _take(self) -> list[_Pending]:
        """The oldest requests that fit in ``max_texts`` (always at least one)."""
        batch = [self._queue.pop(0)]
        total = len(batch[0].texts)
        while self._queue and total + len(self._queue[0].texts) <= self.max_texts:
            total += len(self._queue[0].texts)
            batch.append(self._queue.pop(0))
        return batch

    def _serve(self, batch: list[_Pending]) -> None:
        texts = [t for p in batch for t in p.texts]
        try:
            rows = self._run(texts)
            if len(rows) != len(texts):
                raise ValueError(f"encoder returned {len(rows)} rows for {len(texts)} texts")
        except BaseException as exc:  # every caller of the batch sees the failure
            for p in batch:
                p.error = exc
        else:
            start = 0
            for p in batch:
                p.result = np.ascontiguousarray(rows[start:start + len(p.texts)])
                start += len(p.texts)
        self.runs += 1
        self.requests += len(batch)
        for p in batch:
            p.done = True
