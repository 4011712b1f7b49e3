"""The stages of newsmon's flow as plain functions over the database (no Scrapy here).

Each stage claims articles by status, does its work and commits its results together with the
next status, so any stage can run twice, or be killed and rerun, without duplicating anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from newsmon.config import Config
from newsmon.errors import LockHeld
from newsmon.records import (ArticleStatus, FetchedPage, SavedArticle)
from newsmon.storage.repository import Repository

if TYPE_CHECKING:
    from newsmon.alerts.stage import DeliveryReport


def _empty_delivery() -> DeliveryReport:
    from newsmon.alerts.stage import DeliveryReport

    return DeliveryReport()

log = logging.getLogger(__name__)


# -- collect / extract ---------------------------------------------------------------------------
def store_page(repo: Repository, page: FetchedPage) -> SavedArticle | None:
    """Extract one fetched page and store it; None (with a logged reason) if it is no article."""
    from newsmon.extract import ExtractionError, extract_article

    try:
        article = extract_article(page)
    except ExtractionError as exc:
        log.warning("%s: not stored: %s", page.final_url, exc)
        return None
    return repo.save_article(article)


# -- enrich ----------------------------------------------------------------------------------------
def enrich(repo: Repository, config: Config, limit: int | None = None) -> int:
    """Run the NLP pipeline over every fetched article as one stream; returns how many were done.

    Articles are read a batch at a time and each analysis is saved as it comes back, so memory
    stays flat; worker processes (``nlp.processes``) start once for the whole stream. Articles
    read ahead but not yet saved are still "fetched": the reader skips them (``in_flight``).
    """
    from newsmon.nlp import analyze_texts, load_nlp
    from newsmon.records import Article

    watchlist = config.watch_entities()
    repo.ensure_watch_entities(watchlist)
    if not repo.count_articles(ArticleStatus.FETCHED):
        return 0
    nlp = load_nlp(config.nlp, watchlist)
    watch_types = {w.name: w.type for w in watchlist}
    size = config.nlp.batch_size * 4
    in_flight: dict[int, Article] = {}  # read and not yet saved, in id order

    def fetched() -> Iterator[Article]:
        remaining = limit if limit is not None else float("inf")
        while remaining > 0:
            rows = repo.articles_by_status(ArticleStatus.FETCHED, limit=len(in_flight) + size)
            batch = [a for a in rows if a.id not in in_flight][:int(min(size, remaining))]
            if not batch:
                return
            remaining -= len(batch)
            for article in batch:
                in_flight[article.id] = article  # type: ignore[index]
                yield article

    done = 0
    for analysis in analyze_texts(nlp, ((a.text, a.published_at) for a in fetched()), config.nlp.batch_size):
        article_id = next(iter(in_flight))
        repo.save_analysis(article_id, analysis, watch_types)
        del in_flight[article_id]
        done += 1
    return done


# -- the whole cycle ---------------------------------------------------------------------------------
@dataclass(slots=True)
class CycleReport:
    crawl: object | None = None  # newsmon.crawlers.runner.CrawlReport
    enriched: int = 0
    queued: int = 0
    delivery: DeliveryReport = field(default_factory=lambda: _empty_delivery())
    seconds: float = 0.0

    def problems(self) -> list[str]:
        found = [f"source {s.name}: {s.error}" for s in getattr(self.crawl, "sources", []) if not s.ok]
        return found + self.delivery.errors


def run_cycle(config: Config, sources: list[str] | None = None, crawl: bool = True,
              force: bool = False) -> CycleReport:
    """One full cycle under the run lock: collect, extract, enrich, alert, deliver.

    Only sources whose poll interval has passed are fetched, unless named or `force`d.
    """
    from newsmon.alerts.stage import alert, compile_rules, deliver
    from newsmon.storage.repository import open_repository

    started = time.monotonic()
    compile_rules(config)  # refuse to start with an invalid rule
    with run_lock(config.resolved_lock_file()):
        repo = open_repository(config.database, upgrade=True)
        try:
            report = CycleReport()
            if crawl and config.sources:
                report.crawl = _collect(repo, config, sources, force)
            report.enriched = enrich(repo, config)
            report.queued = alert(repo, config)
            report.delivery = deliver(repo, config)
        finally:
            repo.close()
    report.seconds = time.monotonic() - started
    return report


def _collect(repo: Repository, config: Config, sources: list[str] | None, force: bool) -> object | None:
    """Crawl the due (or named) sources; queue source-health notices from the outcome."""
    from newsmon.crawlers.runner import crawl as run_crawl
    from newsmon.health import due_sources, queue_health_notifications

    names = sources or ([s.name for s in config.sources] if force else
                        due_sources(config, repo, datetime.now(timezone.utc)))
    if not names:
        log.info("no source is due")
        return None
    before = {name: repo.get_source_state(name) for name in names}
    report = run_crawl(config.path, names, {"database": config.database})
    queue_health_notifications(config, repo, before)
    return report


class run_lock:  # noqa: N801 - used as a context manager like open()
    """An exclusive, non-blocking lock: a second run exits at once instead of overlapping."""

    def __init__(self, path: Path) -> None:
        from filelock import FileLock

        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(path), timeout=0)

    def __enter__(self) -> run_lock:
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout:
            raise LockHeld(f"another newsmon run holds the lock {self.path}; not starting") from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


