"""The alert and deliver stages.

alert: rules over analysed articles -> one match per (rule, story), its known facts, and an
outbox of notifications (or digest items), committed with the article's status in one
transaction; then spike rules over mention counts. deliver: held digests whose interval ended
become one message each; due notifications are claimed, sent through apprise at each channel's
rate, and marked sent or retried with backoff.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from newsmon.config import Config, mask_secrets
from newsmon.records import Analysis, Article, ArticleStatus, Match, MatchReason, Notification
from newsmon.storage.repository import Repository, iter_batches

if TYPE_CHECKING:
    from newsmon.alerts.rules import CompiledRule
    from newsmon.storage.outbox import Delivery, Outcome

log = logging.getLogger(__name__)
DIGEST_SECONDS = {"hourly": 3600.0, "daily": 86400.0}


# -- alert -----------------------------------------------------------------------------------------
def compile_rules(config: Config) -> list[CompiledRule]:
    """Validate every rule up front: an invalid rule stops the run (ConfigError, exit 2)."""
    from newsmon.alerts.rules import compile_rule

    names = {w.name for w in config.watchlist}
    return [compile_rule(rule, names) for rule in config.rules]


def alert(repo: Repository, config: Config, limit: int | None = None, now: datetime | None = None) -> int:
    """Evaluate the rules on analysed articles, then spike rules; queue notifications (outbox).

    Returns how many notifications and digest items were queued.
    """
    from newsmon.alerts.index import RuleIndex
    from newsmon.alerts.spikes import alert_spikes
    from newsmon.storage.outbox import load_analyses, save_outcomes

    rules = compile_rules(config)
    index = RuleIndex.build(rules)
    tags = {s.name: s.tags for s in config.sources}
    queued = 0
    for batch in iter_batches(repo, ArticleStatus.ANALYSED, 200, limit):
        analyses = load_analyses(repo, [a.id for a in batch])  # type: ignore[misc]
        for article in batch:
            analysis = analyses[article.id]  # type: ignore[index]
            fired = index.evaluate(article, analysis, tags.get(article.source, ()), explain=False)
            outcomes = plan_outcomes(repo, config, article, analysis, fired) if fired else []
            queued += save_outcomes(repo, article.id, outcomes, now)  # type: ignore[arg-type]
    return queued + alert_spikes(repo, config, [r for r in rules if r.spike is not None], now)


def plan_outcomes(repo: Repository, config: Config, article: Article, analysis: Analysis,
                  fired: list[tuple[CompiledRule, list[MatchReason]]]) -> list[Outcome]:
    """What to store and send for the rules that fired: the story's first alert per rule, a
    follow-up when the article adds facts the rule's earlier notifications did not carry, or
    nothing. Only what is stored and sent gets explained (its query's best sentence found)."""
    from newsmon.alerts.facts import extract_facts, new_facts
    from newsmon.alerts.rules import PreparedArticle, explain
    from newsmon.storage.outbox import Outcome, known_story_matches

    story_id = article.story_id or article.id
    assert story_id is not None and article.id is not None
    known = known_story_matches(repo, story_id)
    sources = repo.story_source_count(story_id)
    prepared = PreparedArticle(article, analysis)  # shared: the text is split into sentences once
    outcomes = []
    for rule, reasons in fired:
        facts = extract_facts(analysis.events, rule.events)
        prior = known.get(rule.name)
        fresh = new_facts(facts, prior.facts) if prior else []
        if prior and not fresh:
            continue  # the story is alerted and this article says nothing new
        version = prior.version + 1 if prior else 1
        reasons = explain(rule, reasons, prepared)
        deliveries = _deliveries(config, rule, article, analysis, reasons, sources,
                                 (version, fresh) if prior else None, story_id)
        outcomes.append(Outcome(Match(rule.name, article.id, story_id, reasons), version,
                                sorted((prior.facts if prior else set()) | set(facts)), deliveries,
                                prior.id if prior else None))
    return outcomes


def _deliveries(config: Config, rule: CompiledRule, article: Article, analysis: Analysis,
                reasons: list[MatchReason], sources: int, update: tuple[int, list[Any]] | None,
                story_id: int) -> list[Delivery]:
    from newsmon.alerts.render import build_match_context, render_notification
    from newsmon.alerts.rules import highlight_terms

    context = build_match_context(rule.name, article, reasons, sources, highlight_terms(rule, analysis), update)
    version = update[0] if update else 1
    found = []
    for name in rule.notify:
        title, body, body_format = render_notification(config.channel(name).url, context, config.templates)
        note = Notification(channel=name, title=title, body=body, body_format=body_format,
                            key=f"{rule.name}:story-{story_id}:{name}:v{version}")
        found.append(delivery_for(config, rule, name, note, context, f"story-{story_id}"))
    return found


def delivery_for(config: Config, rule: CompiledRule, channel: str, note: Notification,
                 context: dict[str, Any], subject: str) -> Delivery:
    """How one rendered alert leaves: now, in the channel's (or the rule's) digest, or capped."""
    from newsmon.alerts.render import digest_entry
    from newsmon.storage.outbox import Delivery

    mode: str = config.channel(channel).digest
    mode = mode if mode != "none" else rule.digest
    entry = digest_entry(context) if "article" in context else context["entry"]
    return Delivery(channel, note, entry, subject, DIGEST_SECONDS.get(mode), rule.max_alerts, rule.max_alerts_per)


# -- deliver ---------------------------------------------------------------------------------------
@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    digests: int = 0
    errors: list[str] = field(default_factory=list)


def deliver(repo: Repository, config: Config, now: datetime | None = None,
            send: Callable[..., None] | None = None,
            sleep: Callable[[float], None] = time.sleep) -> DeliveryReport:
    """Send every due notification once; failures are kept with their error for a later retry.

    Each notification is claimed before it is sent (for twice the delivery timeout), so two
    deliverers never send the same one; one killed mid-send leaves it pending, sent again later
    (at least once, never lost). Webhooks carry the idempotency key in an ``X-Newsmon-Key``
    header for receivers that de-duplicate.
    """
    from newsmon.alerts.deliver import send as apprise_send
    from newsmon.storage.outbox import claim_notification

    send = send or apprise_send
    now = now or datetime.now(timezone.utc)
    report = DeliveryReport(digests=flush_digests(repo, config, now))
    pacer = _Pacer(config, sleep)
    lease = 2 * config.delivery.timeout + 5
    for note in repo.due_notifications(now, limit=10_000):
        if not claim_notification(repo, note.id, max(now, datetime.now(timezone.utc)), lease):  # type: ignore[arg-type]
            continue
        pacer.wait(note.channel)
        _deliver_one(repo, config, note, now, send, report)
    return report


def _deliver_one(repo: Repository, config: Config, note: Notification, now: datetime,
                 send: Callable[..., None], report: DeliveryReport) -> None:
    from newsmon.alerts.deliver import DeliveryError, next_attempt_delay

    try:
        if note.channel not in config.channels:
            raise DeliveryError(f"channel {note.channel!r} is not configured")
        send(config.channel(note.channel).url, note.title, note.body, note.body_format,
             config.delivery.timeout, key=note.key)
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
        return
    repo.mark_sent(note.id)  # type: ignore[arg-type]
    report.sent += 1


class _Pacer:
    """Per-channel rate limits (``rate_limit: 1/s``): waits so messages keep their spacing."""

    def __init__(self, config: Config, sleep: Callable[[float], None]) -> None:
        self.config = config
        self.sleep = sleep
        self.last: dict[str, float] = {}

    def wait(self, channel: str) -> None:
        rate = self.config.channel(channel).per_second if channel in self.config.channels else None
        if rate:
            due = self.last.get(channel, float("-inf")) + 1.0 / rate
            if (pause := due - time.monotonic()) > 0:
                self.sleep(pause)
        self.last[channel] = time.monotonic()


def flush_digests(repo: Repository, config: Config, now: datetime) -> int:
    """Turn held items whose interval ended into one notification per digest or cap summary."""
    from newsmon.alerts.render import render_digest
    from newsmon.storage.outbox import due_digest_groups, save_digest

    made = 0
    for group in due_digest_groups(repo, now):
        if group.channel not in config.channels:
            log.warning("digest for unknown channel %s kept until it is configured", group.channel)
            continue
        title, body, body_format = render_digest(config.channel(group.channel).url, _heading(group),
                                                 group.entries, config.templates)
        save_digest(repo, group, Notification(channel=group.channel, title=title, body=body,
                                              body_format=body_format, key=group.key), now)
        made += 1
    return made


def _heading(group: Any) -> str:
    span = group.end - group.start
    start = group.start.strftime("%Y-%m-%d %H:%M UTC")
    if group.kind == "overflow":
        return f"{group.rule}: more stories than its cap, {start} + {_span(span)}"
    return f"{'daily' if span >= timedelta(days=1) else 'hourly'} digest, {start} + {_span(span)}"


def _span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
