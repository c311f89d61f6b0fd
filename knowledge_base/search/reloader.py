"""Publish -> bot: reload the retrieval service when the KB gets a new release.

After a publish or rollback is committed, :meth:`Reloader.request` asks the service to reload:
the new release's index is built aside (incrementally: vectors of unchanged texts come from
``embedcache``) and swapped in atomically, so queries in flight finish on the old snapshot and
none is dropped. Reloads run on one background thread and coalesce: any number of requests
become reloads of the newest release. :meth:`Reloader.wait_served` lets a request await the
swap (an asyncio future resolved by the service's swap listener, no polling), and
:meth:`Reloader.watch` picks up releases published by another process.

One reloader belongs to one service; the app keeps it next to the service (``app.state``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading

from knowledge_base.config import KBConfig
from knowledge_base.content.store import current_release
from knowledge_base.db import sessions
from knowledge_base.search.service import Cancelled, KnowledgeService
from knowledge_base.search.snapshot import Snapshot

logger = logging.getLogger(__name__)


class Reloader:
    """Background reloads of one :class:`KnowledgeService`, and waiting for them."""

    def __init__(self, kb: KnowledgeService) -> None:
        self.kb = kb
        self._lock = threading.Lock()
        self._requested = 0
        self._done = 0
        self._thread: threading.Thread | None = None
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[int]]] = []
        kb.add_swap_listener(self._swapped)

    # ---- requesting

    def request(self) -> None:
        """Reload to the newest release (coalesces with a reload already waiting)."""
        with self._lock:
            self._requested += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kb-publish-reload",
                                                daemon=True)
                self._thread.start()

    @property
    def reloading(self) -> bool:
        """True while a reload is running or queued."""
        return self._thread is not None

    def _newer_than(self, target: int) -> bool:
        return self._requested > target

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._done >= self._requested:
                    self._thread = None
                    return
                target = self._requested
            try:
                snap = self.kb.reload(stale=functools.partial(self._newer_than, target))
                logger.info("retrieval now serves KB release %d", snap.release)
            except Cancelled:
                if self.kb.closed:  # the app is shutting down
                    with self._lock:
                        self._thread = None
                    return
                logger.info("KB rebuild abandoned: a newer release is waiting")
                continue
            except Exception:  # keep serving the old snapshot; the next publish retries
                logger.exception("KB reload after publish failed")
            with self._lock:
                self._done = target

    def stop(self, wait: float = 30.0) -> None:
        """After ``kb.close()``: wait for a running reload to notice and stop."""
        thread = self._thread
        if thread is not None:
            thread.join(wait)

    # ---- waiting

    def serving_release(self) -> int | None:
        """The release the bot answers from right now."""
        snap = self.kb.snapshot
        return snap.release if snap is not None else None

    def _swapped(self, snapshot: Snapshot) -> None:
        """Swap listener (loading thread): resolve the waiters this release satisfies."""
        with self._lock:
            ready = [w for w in self._waiters if snapshot.release >= w[0]]
            self._waiters = [w for w in self._waiters if snapshot.release < w[0]]
        for _release, loop, future in ready:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, future, snapshot.release)

    async def wait_served(self, release: int, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds until ``release`` (or a newer one) is served; returns
        the release served when the wait ended (a slower swap goes on in the background)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        entry = (release, loop, future)
        with self._lock:
            self._waiters.append(entry)
        serving = self.serving_release()
        if serving is not None and serving >= release:
            _resolve(future, serving)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return self.serving_release()
        finally:
            with self._lock:
                if entry in self._waiters:
                    self._waiters.remove(entry)

    async def activate(self, release: int, timeout: float) -> int | None:
        """Have the bot switch to ``release`` and wait (bounded) for the swap."""
        self.request()
        return await self.wait_served(release, timeout)

    # ---- releases published elsewhere

    async def watch(self, config: KBConfig, interval: float) -> None:
        """Reload when the database has a newer release than the one served (e.g. published by
        another API process). Runs until cancelled."""
        factory = sessions(config.database_url)

        def newest() -> int | None:
            with factory() as session:
                row = current_release(session)
                return row.number if row is not None else None

        while True:
            await asyncio.sleep(interval)
            try:
                latest = await asyncio.to_thread(newest)
            except Exception:  # the database may be briefly locked; try again next round
                logger.exception("could not read the newest KB release")
                continue
            serving = self.serving_release()
            if latest is not None and serving is not None and latest != serving \
                    and self.kb.status().get("state") == "up" and not self.reloading:
                logger.info("KB release %d is newer than the served %d: reloading", latest,
                            serving)
                self.request()


def _resolve(future: asyncio.Future[int], release: int) -> None:
    if not future.done():
        future.set_result(release)
