"""Source scheduling and health: which sources are due, how each is doing, and one notification
when a source starts failing (and one when it recovers), never one per run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from newsmon.config import Config, Source, parse_duration
from newsmon.records import Notification, SourceState
from newsmon.storage.repository import Repository

# a source polled every 15 min by a cron job every 15 min must not be skipped for being a few
# seconds early
DUE_SLACK = timedelta(seconds=60)


@dataclass(slots=True)
class SourceHealth:
    name: str
    kind: str
    url: str
    due: bool
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    failures: int
    last_error: str | None
    articles_24h: int = 0
    articles_7d: int = 0
    with_title: float | None = None
    with_date: float | None = None
    with_author: float | None = None


def is_due(source: Source, state: SourceState, now: datetime) -> bool:
    if state.last_attempt_at is None:
        return True
    return now - state.last_attempt_at + DUE_SLACK >= timedelta(seconds=parse_duration(source.poll_interval))


def due_sources(config: Config, repo: Repository, now: datetime) -> list[str]:
    return [s.name for s in config.sources if is_due(s, repo.get_source_state(s.name), now)]


def source_health(config: Config, repo: Repository, now: datetime) -> list[SourceHealth]:
    stats = repo.source_article_stats(now)
    rows = []
    for source in config.sources:
        state = repo.get_source_state(source.name)
        counts = stats.get(source.name, {})
        rows.append(SourceHealth(
            source.name, source.kind.value, source.url, is_due(source, state, now), state.last_success_at,
            state.last_attempt_at, state.failures, state.last_error,
            int(counts.get("articles_24h", 0)), int(counts.get("articles_7d", 0)),
            counts.get("with_title"), counts.get("with_date"), counts.get("with_author")))
    return rows


def queue_health_notifications(config: Config, repo: Repository, before: dict[str, SourceState]) -> int:
    """After a crawl: one 'failing' notice per failure streak that reached the threshold, and one
    'recovered' notice when such a streak ends. Keys make both idempotent across runs."""
    queued = 0
    threshold = config.health.failures
    for name, old in before.items():
        new = repo.get_source_state(name)
        streak = _iso(old.last_success_at if new.failures else new.last_success_at)
        if new.failures >= threshold:
            notice = (f"source {name} is failing", f"{new.failures} runs in a row failed; last error: "
                      f"{new.last_error}. Last success: {_iso(new.last_success_at)}.", f"failing:{streak}")
        elif old.failures >= threshold and new.failures == 0:
            notice = (f"source {name} recovered", f"{name} was read again after {old.failures} failed runs.",
                      f"recovered:{_iso(old.last_success_at)}")
        else:
            continue
        for channel in config.health.notify:
            queued += repo.queue_notification(Notification(
                channel=channel, title=f"[newsmon] {notice[0]}", body=notice[1], body_format="text",
                key=f"health:{name}:{notice[2]}:{channel}"))
    return queued


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else "never"
