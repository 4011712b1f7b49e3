"""The stages of newsmon's flow as plain functions over the database (no Scrapy here).

Each stage claims articles by status, does its work and commits its results together with the
next status, so any stage can run twice, or be killed and rerun, without duplicating anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from newsmon.config import Config, mask_secrets
from newsmon.errors import LockHeld, NewsmonError
from newsmon.records import (Analysis, Article, ArticleStatus, FetchedPage, Match, MatchReason,
                             Notification, SavedArticle)
from newsmon.storage.repository import Repository

if TYPE_CHECKING:
    from newsmon.alerts.rules import CompiledRule

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
    """Run the NLP pipeline over every fetched article, in batches; returns how many were done."""
    from newsmon.nlp import analyze_texts, load_nlp

    watchlist = config.watch_entities()
    repo.ensure_watch_entities(watchlist)
    pending = repo.count_articles(ArticleStatus.FETCHED)
    if not pending:
        return 0
    nlp = load_nlp(config.nlp, watchlist)
    watch_types = {w.name: w.type for w in watchlist}
    done = 0
    for batch in _batches(repo, ArticleStatus.FETCHED, config.nlp.batch_size * 4, limit):
        items = [(a.text, a.published_at) for a in batch]
        for article, analysis in zip(batch, analyze_texts(nlp, items, config.nlp.batch_size)):
            repo.save_analysis(article.id, analysis, watch_types)  # type: ignore[arg-type]
            done += 1
    return done


def _batches(repo: Repository, status: ArticleStatus, size: int, limit: int | None) -> Iterator[list[Article]]:
    """Successive batches of articles in `status` (each batch moves them on, so re-query)."""
    remaining = limit if limit is not None else float("inf")
    while remaining > 0:
        batch = repo.articles_by_status(status, limit=int(min(size, remaining)))
        if not batch:
            return
        remaining -= len(batch)
        yield batch


# -- alert -----------------------------------------------------------------------------------------
def compile_rules(config: Config) -> list[CompiledRule]:
    """Validate every rule up front: an invalid rule stops the run (ConfigError, exit 2)."""
    from newsmon.alerts.rules import compile_rule

    names = {w.name for w in config.watchlist}
    return [compile_rule(rule, names) for rule in config.rules]


def alert(repo: Repository, config: Config, limit: int | None = None) -> int:
    """Evaluate the rules on analysed articles; queue notifications (outbox). Returns how many."""
    from newsmon.alerts.rules import evaluate

    rules = compile_rules(config)
    tags = {s.name: s.tags for s in config.sources}
    queued = 0
    for batch in _batches(repo, ArticleStatus.ANALYSED, 200, limit):
        for article in batch:
            analysis = repo.load_analysis(article.id)  # type: ignore[arg-type]
            matches = []
            for rule in rules:
                reasons = evaluate(rule, article, analysis, tags.get(article.source, ()))
                if reasons:
                    matches.append(_match_with_notifications(repo, config, rule, article, analysis, reasons))
            queued += repo.save_matches(article.id, matches)  # type: ignore[arg-type]
    return queued


def _match_with_notifications(repo: Repository, config: Config, rule: CompiledRule, article: Article,
                              analysis: Analysis, reasons: list[MatchReason]) -> tuple[Match, list[Notification]]:
    """The match and one rendered notification per channel, keyed (rule, story, channel, version)."""
    from newsmon.alerts.render import build_match_context, render_notification
    from newsmon.alerts.rules import highlight_terms

    story_id = article.story_id or article.id
    assert story_id is not None and article.id is not None
    context = build_match_context(rule.name, article, reasons, repo.story_source_count(story_id),
                                  highlight_terms(rule, analysis))
    notes = []
    for channel in rule.notify:
        title, body, body_format = render_notification(config.channels[channel], context, config.templates)
        notes.append(Notification(channel=channel, title=title, body=body, body_format=body_format,
                                  key=f"{rule.name}:story-{story_id}:{channel}:v1"))
    return Match(rule.name, article.id, story_id, reasons), notes


# -- deliver ---------------------------------------------------------------------------------------
@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def deliver(repo: Repository, config: Config, now: datetime | None = None,
            send: Callable[..., None] | None = None) -> DeliveryReport:
    """Send every due notification once; failures are kept with their error for a later retry."""
    from newsmon.alerts.deliver import DeliveryError, next_attempt_delay
    from newsmon.alerts.deliver import send as apprise_send

    send = send or apprise_send
    now = now or datetime.now(timezone.utc)
    report = DeliveryReport()
    for note in repo.due_notifications(now, limit=10_000):
        url = config.channels.get(note.channel)
        try:
            if url is None:
                raise DeliveryError(f"channel {note.channel!r} is not configured")
            send(url, note.title, note.body, note.body_format, config.delivery.timeout)
        except DeliveryError as exc:
            error = mask_secrets(str(exc))
            final = note.attempts + 1 >= config.delivery.max_attempts
            retry_at = None if final else now + timedelta(seconds=next_attempt_delay(note.attempts + 1, config.delivery))
            repo.mark_attempt_failed(note.id, error, retry_at)  # type: ignore[arg-type]
            report.errors.append(f"notification {note.id} to {note.channel}: {error}")
            if final:
                report.failed += 1
            else:
                report.retrying += 1
            continue
        repo.mark_sent(note.id)  # type: ignore[arg-type]
        report.sent += 1
    return report


# -- the whole cycle ---------------------------------------------------------------------------------
@dataclass(slots=True)
class CycleReport:
    crawl: object | None = None  # newsmon.crawlers.runner.CrawlReport
    enriched: int = 0
    queued: int = 0
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    seconds: float = 0.0

    def problems(self) -> list[str]:
        found = [f"source {s.name}: {s.error}" for s in getattr(self.crawl, "sources", []) if not s.ok]
        return found + self.delivery.errors


def run_cycle(config: Config, sources: list[str] | None = None, crawl: bool = True) -> CycleReport:
    """One full cycle under the run lock: collect, extract, enrich, alert, deliver."""
    from newsmon.storage.repository import open_repository

    started = time.monotonic()
    compile_rules(config)  # refuse to start with an invalid rule
    with run_lock(config.resolved_lock_file()):
        repo = open_repository(config.database, upgrade=True)
        try:
            report = CycleReport()
            if crawl and config.sources:
                from newsmon.crawlers.runner import crawl as run_crawl

                report.crawl = run_crawl(config.path, sources, {"database": config.database})
            report.enriched = enrich(repo, config)
            report.queued = alert(repo, config)
            report.delivery = deliver(repo, config)
        finally:
            repo.close()
    report.seconds = time.monotonic() - started
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


__all__ = ["store_page", "enrich", "alert", "deliver", "run_cycle", "run_lock", "CycleReport",
           "DeliveryReport", "NewsmonError"]
