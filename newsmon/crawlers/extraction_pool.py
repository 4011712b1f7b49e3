"""Extraction off the reactor thread: worker processes run `newsmon.extract.extract_article`.

    pool = ExtractionPool(workers=2, max_pending=8, max_bytes=5_000_000, recycle_after=500)
    outcome = await maybe_deferred_to_future(pool.extract(page))  # an Article, or a Refusal
    pool.close()

Extraction (lxml, trafilatura twice, our metadata pass) is CPU-bound Python: on the reactor
thread it stalls every download, in threads it holds the GIL. Worker processes use every core;
the caller stores the results in its own process (one database connection, no SQL in workers).

Workers start with the first page (a poll that finds nothing new starts none), forked from a
fork server that imported the extraction code once: no interpreter start and trafilatura import
per worker, and the workers share those pages of memory.

Memory stays flat: at most `max_pending` pages are in the workers' hands at once; further
`extract` calls wait on a semaphore (Scrapy's scraper slot, SCRAPER_SLOT_MAX_ACTIVE_SIZE bytes
of responses in processing, then stops new downloads). Every `recycle_after` pages fresh
workers take over (the old ones finish what they hold, then exit), so what lxml and trafilatura
keep in a worker (caches, a fragmented heap) cannot pile up over a long crawl.

A worker that dies (a crash on hostile input, the OOM killer) breaks the pool: it is rebuilt
and the pages it held are tried once more, then refused as "crashed".

A crawl of feeds, sitemaps and sites runs one Scrapy crawler per kind of source in one process;
they all take their pool from `shared_pool`, so the process has one worker per core whatever
the mix of sources (a pool each would put three workers per core, and three times their
memory, on a crawl of all three kinds).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, DeferredSemaphore, succeed
from twisted.python.failure import Failure

from newsmon.extract import ExtractionError, extract_article
from newsmon.records import Article, FetchedPage

log = logging.getLogger(__name__)
INLINE = -1  # NEWSMON_EXTRACT_WORKERS value: no pool, extract in the calling thread
# Each worker has one page in hand and one queued; the rest cover the reactor's delay in
# handing on the next page while it stores results and downloads.
PENDING_PER_WORKER = 4


@dataclass(slots=True)
class Refusal:
    """A page extraction refused: `reason` is ExtractionError's code ("binary", "empty"...)."""

    reason: str
    message: str


def extract_page(page: FetchedPage, max_bytes: int) -> Article | Refusal:
    """What a worker runs. Refusals come back as values: ExtractionError does not pickle."""
    try:
        return extract_article(page, max_bytes=max_bytes)
    except ExtractionError as exc:
        return Refusal(exc.reason, str(exc))


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pool_context() -> multiprocessing.context.BaseContext:
    """Fork server (preloading this module, so trafilatura, and datasketch) where there is one, else spawn.

    Never plain fork: forking the crawl process with the reactor's threads running can deadlock.
    The fork server is a fresh single-threaded interpreter, started with the first worker.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "datasketch"])  # dedupe imports it on first use
    return context


class ExtractionPool:
    """`extract(page)` -> Deferred firing with an Article or a Refusal, from worker processes."""

    def __init__(self, workers: int, max_pending: int, max_bytes: int, recycle_after: int = 0) -> None:
        self.workers = usable_cpus() if workers == 0 else workers
        self.max_bytes = max_bytes
        self.recycle_after = recycle_after  # 0: keep the workers for the whole crawl
        self._submitted = 0  # pages given to the current workers
        self.max_pending = max_pending or PENDING_PER_WORKER * max(1, self.workers)
        self._slots = DeferredSemaphore(self.max_pending)
        self._executor: ProcessPoolExecutor | None = None
        if self.workers != INLINE:
            self._executor = self._start()
        log.info("extraction pool: %s", "in the reactor thread" if self.workers == INLINE
                 else f"{self.workers} worker process(es) for this crawl")

    @classmethod
    def from_settings(cls, settings: Any, max_bytes: int) -> ExtractionPool:
        return cls(settings.getint("NEWSMON_EXTRACT_WORKERS", 0), settings.getint("NEWSMON_EXTRACT_MAX_PENDING", 0),
                   max_bytes, settings.getint("NEWSMON_EXTRACT_RECYCLE_AFTER", 0))

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=pool_context())

    def extract(self, page: FetchedPage) -> Deferred[Article | Refusal]:
        if self._executor is None:
            return succeed(extract_page(page, self.max_bytes))
        return self._slots.run(self._submit, page, retried=False)

    def _submit(self, page: FetchedPage, retried: bool) -> Deferred[Article | Refusal]:
        assert self._executor is not None
        self._recycle_if_due()
        try:
            future = self._executor.submit(extract_page, page, self.max_bytes)
        except BrokenProcessPool:
            self._restart()
            future = self._executor.submit(extract_page, page, self.max_bytes)
        return _as_deferred(future).addErrback(self._on_broken, page, retried)

    def _on_broken(self, failure: Failure, page: FetchedPage, retried: bool) -> Any:
        failure.trap(BrokenProcessPool)
        if retried:
            return Refusal("crashed", f"{page.final_url}: the extraction worker died on this page")
        log.warning("an extraction worker died; restarting the pool (%s)", page.final_url)
        self._restart()
        return self._submit(page, retried=True)

    def _recycle_if_due(self) -> None:
        """Hand the next pages to fresh workers once the current ones had `recycle_after`."""
        assert self._executor is not None
        self._submitted += 1
        if self.recycle_after and self._submitted > self.recycle_after:
            log.debug("extraction workers replaced after %d pages", self.recycle_after)
            self._executor.shutdown(wait=False)  # its workers finish the pages they hold
            self._executor, self._submitted = self._start(), 1

    def _restart(self) -> None:
        assert self._executor is not None
        if getattr(self._executor, "_broken", False):  # once per breakage, not once per page
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._start()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


class _Shared:
    pool: ExtractionPool | None = None
    users = 0


def shared_pool(settings: Any, max_bytes: int) -> ExtractionPool:
    """The crawl process's pool, started by its first user; give it back with `release_pool`."""
    if _Shared.pool is None:
        _Shared.pool = ExtractionPool.from_settings(settings, max_bytes)
    _Shared.users += 1
    return _Shared.pool


def release_pool(pool: ExtractionPool) -> None:
    """One user is done with the shared pool; the last one closes it (its workers exit)."""
    assert pool is _Shared.pool, "release_pool takes back what shared_pool gave"
    _Shared.users -= 1
    if _Shared.users == 0:
        _Shared.pool = None
        pool.close()


def _as_deferred(future: Future[Any]) -> Deferred[Any]:
    """A Deferred fired in the reactor thread when `future` (done in another thread) is."""
    from twisted.internet import reactor

    deferred: Deferred[Any] = Deferred()

    def done(f: Future[Any]) -> None:
        reactor.callFromThread(_fire, deferred, f)  # type: ignore[attr-defined]

    future.add_done_callback(done)
    return deferred


def _fire(deferred: Deferred[Any], future: Future[Any]) -> None:
    error = future.exception()
    if error is not None:
        deferred.errback(Failure(error))
    else:
        deferred.callback(future.result())
