"""`newsmon doctor`: is this installation ready to run from cron?

Each check returns a `Check` (ok or not, with one line saying why); nothing is sent, fetched or
migrated. The CLI renders the list and exits 1 if any check failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from newsmon.config import Config, load_config, mask_secrets
from newsmon.errors import NewsmonError


@dataclass(slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_checks(config_path: str | None = None, overrides: dict[str, Any] | None = None) -> list[Check]:
    """Every check in order: config, database, spaCy model, channels, sources.

    Later checks need the configuration, so a configuration error is the only check returned;
    the source check needs a migrated database and is skipped (as failed) otherwise.
    """
    try:
        config = load_config(config_path, overrides, required=True)
    except NewsmonError as exc:
        return [Check("config", False, _line(exc))]
    database = check_database(config)
    checks = [check_config(config), database, _guard("nlp", lambda: check_nlp(config))]
    checks += check_channels(config)
    if database.ok:
        checks += _guarded_list("sources", lambda: check_sources(config))
    else:
        checks.append(Check("sources", False, "not checked: the database is not ready"))
    return checks


def check_config(config: Config) -> Check:
    counts = (f"{len(config.sources)} source(s), {len(config.watchlist)} watch-list entities, "
              f"{len(config.channels)} channel(s), {len(config.rules)} rule(s)")
    return Check("config", True, f"{config.path or 'defaults'}: {counts}")


def check_database(config: Config) -> Check:
    """Reachable, and migrated to the head revision of the bundled migrations."""
    from newsmon.storage import migrate
    from newsmon.storage.engine import check_connection, create_db_engine

    where = mask_secrets(config.database)
    try:
        engine = create_db_engine(config.database)
        try:
            check_connection(engine)
            current, head = migrate.current_revision(engine), migrate.head_revision()
        finally:
            engine.dispose()
    except NewsmonError as exc:
        return Check("database", False, _line(exc))
    if current != head:
        return Check("database", False, f"{where}: schema at revision {current or 'none'}, head is {head}: "
                                        "run 'newsmon db upgrade'")
    return Check("database", True, f"{where}: schema at head revision {head}")


def check_nlp(config: Config) -> Check:
    from newsmon.nlp import load_nlp

    nlp = load_nlp(config.nlp, config.watch_entities())
    return Check("nlp", True, f"spaCy model {config.nlp.model} loaded ({', '.join(nlp.pipe_names)})")


def check_channels(config: Config) -> list[Check]:
    """Each channel URL must parse with apprise; shown as scheme://host only, never sent to."""
    return [_check_channel(name, config.channel(name).url) for name in config.channels]


def _check_channel(name: str, url: str) -> Check:
    import apprise

    from newsmon.alerts.deliver import describe_channel

    try:
        service = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    except Exception:  # noqa: BLE001 - a malformed URL reads as invalid, whatever apprise raised
        service = None
    if service is None:
        return Check(f"channel {name}", False, f"apprise cannot parse the URL {describe_channel(url)}")
    return Check(f"channel {name}", True, f"{describe_channel(url)} ({type(service).__name__})")


def check_sources(config: Config) -> list[Check]:
    """One check per source: failed when its failure streak reached `health.failures`."""
    from newsmon.health import source_health
    from newsmon.storage.repository import open_repository

    if not config.sources:
        return [Check("sources", False, "no sources configured: add some under 'sources:'")]
    repo = open_repository(config.database)
    try:
        health = source_health(config, repo, datetime.now(UTC))
    finally:
        repo.close()
    return [_check_source(h, config.health.failures) for h in health]


def _check_source(h: Any, threshold: int) -> Check:
    last = h.last_success_at.strftime("%Y-%m-%d %H:%M UTC") if h.last_success_at else "never"
    if h.last_attempt_at is None:
        return Check(f"source {h.name}", True, "not read yet")
    if h.failures >= threshold:
        return Check(f"source {h.name}", False, mask_secrets(
            f"{h.failures} failed runs in a row (last success {last}): {_first_line(h.last_error)}"))
    failing = f", {h.failures} recent failure(s)" if h.failures else ""
    return Check(f"source {h.name}", True, f"last success {last}{failing}; {h.articles_7d} articles in 7 d")


def _guard(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except NewsmonError as exc:
        return Check(name, False, _line(exc))


def _guarded_list(name: str, checks: Callable[[], list[Check]]) -> list[Check]:
    try:
        return checks()
    except NewsmonError as exc:
        return [Check(name, False, _line(exc))]


def _line(exc: BaseException) -> str:
    return mask_secrets(_first_line(str(exc)))


def _first_line(text: str | None) -> str:
    return (text or "unknown error").strip().splitlines()[0] if (text or "").strip() else "unknown error"
