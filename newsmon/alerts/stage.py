"""The alert and deliver stages: rules over analysed articles -> matches and an outbox of
notifications (one transaction), then delivery through apprise with retries and backoff."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from newsmon.config import Config, mask_secrets
from newsmon.records import Analysis, Article, ArticleStatus, Match, MatchReason, Notification
from newsmon.storage.repository import Repository, iter_batches

if TYPE_CHECKING:
    from newsmon.alerts.rules import CompiledRule

log = logging.getLogger(__name__)


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
    for batch in iter_batches(repo, ArticleStatus.ANALYSED, 200, limit):
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
