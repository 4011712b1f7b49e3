"""The `newsmon` command line: parse options, call one library function, render, map errors.

Exit codes: 0 ok, 1 failure (including a failed delivery or source), 2 usage or config error.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from newsmon import __version__
from newsmon.config import Config, load_config, mask_secrets, parse_duration
from newsmon.errors import ConfigError, NewsmonError
from newsmon.output import output_options, print_json, render_rows

log = logging.getLogger("newsmon")


class _Group(click.Group):
    """Turns NewsmonError into one line on stderr and its exit code; no tracebacks for users."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NewsmonError as exc:
            click.echo(f"Error: {mask_secrets(str(exc))}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted", err=True)
            sys.exit(130)


class _Secrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_secrets(record.getMessage())
        record.args = None
        return True


def _setup_logging(verbose: int, quiet: bool, log_file: str | None) -> None:
    level = logging.ERROR if quiet else [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        from logging.handlers import RotatingFileHandler

        handlers.append(RotatingFileHandler(log_file, maxBytes=10_000_000, backupCount=5))
    for handler in handlers:
        handler.addFilter(_Secrets())
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=handlers, force=True)


class State:
    def __init__(self, config_path: str | None, database: str | None, quiet: bool = False) -> None:
        self.config_path = config_path
        self.database = database
        self.quiet = quiet
        self._config: Config | None = None

    def config(self, required: bool = False) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path, {"database": self.database}, required=required)
        return self._config

    def repo(self, upgrade: bool = False):  # type: ignore[no-untyped-def]
        from newsmon.storage.repository import open_repository

        return open_repository(self.config().database, upgrade=upgrade)


pass_state = click.make_pass_decorator(State)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "-c", "config_path", metavar="FILE", envvar="NEWSMON_CONFIG",
              help="Configuration file (default: $NEWSMON_CONFIG, then ./newsmon.yaml).")
@click.option("--database", metavar="URL", help="Database URL; overrides $NEWSMON_DATABASE and the file.")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr (for cron).")
@click.option("--log-file", metavar="FILE", help="Also log to FILE (rotated at 10 MB, 5 kept).")
@click.version_option(__version__, prog_name="newsmon")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, database: str | None, verbose: int, quiet: bool,
        log_file: str | None) -> None:
    """newsmon: watch the news for what you care about and get told, once, with the reason.

    \b
    Quick start:
      newsmon demo                      # bundled pages served on 127.0.0.1, full flow
      newsmon init && newsmon run       # your own sources, watch list and rules
      newsmon search 'Twitter AND office'
    """
    _setup_logging(verbose, quiet, log_file)
    ctx.obj = State(config_path, database, quiet)


def _status(state: State, message: str) -> AbstractContextManager[Any]:
    """A spinner on stderr while a long stage runs: only on a terminal, never in cron or --quiet."""
    if state.quiet or not sys.stderr.isatty():
        return nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(message)


# -- setup ---------------------------------------------------------------------------------------
@cli.command()
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
@click.option("--path", "target", default="newsmon.yaml", show_default=True, help="Where to write the config.")
@pass_state
def init(state: State, force: bool, target: str) -> None:
    """Write a commented starter newsmon.yaml and create the database.

    \b
    Example:
      newsmon init && $EDITOR newsmon.yaml && newsmon run
    """
    from newsmon.setup import write_starter_config

    path = Path(state.config_path or target)
    write_starter_config(path, force=force)
    click.echo(f"wrote {path}", err=True)
    state.config_path = str(path)
    repo = state.repo(upgrade=True)
    repo.close()
    click.echo(f"database ready: {mask_secrets(state.config().database)}", err=True)


@cli.group()
def db() -> None:
    """Database schema: migrations.

    \b
    Example:
      newsmon db upgrade
    """


@db.command("upgrade")
@pass_state
def db_upgrade(state: State) -> None:
    """Create or migrate the database schema to the latest version.

    \b
    Example:
      newsmon --database postgresql+psycopg://newsmon@localhost/newsmon db upgrade
    """
    from newsmon.storage import migrate

    repo = state.repo(upgrade=True)
    click.echo(f"database at revision {migrate.current_revision(repo.engine)}", err=True)
    repo.close()


# -- the cycle and its stages ------------------------------------------------------------------------
@cli.command()
@click.option("--source", "sources", multiple=True, metavar="NAME", help="Only these sources (repeatable).")
@click.option("--every", metavar="DURATION", help="Repeat every DURATION (e.g. 15m) for hosts without cron.")
@click.option("--no-crawl", is_flag=True, help="Skip collection; process what is stored.")
@click.option("--force", is_flag=True, help="Fetch every source now, even those not due yet.")
@pass_state
def run(state: State, sources: tuple[str, ...], every: str | None, no_crawl: bool, force: bool) -> None:
    """One full cycle: collect, extract, enrich, alert, deliver (the cron job).

    Exits 1 with a one-line reason when a source or a delivery failed; what was collected is kept.
    A second run started while one is going exits at once.

    \b
    Examples:
      newsmon run
      newsmon run --every 15m        # loop without cron
    """
    from newsmon.pipeline import run_cycle

    config = state.config(required=True)
    for name in sources:
        config.source(name)
    interval = _duration_option(every, "--every") if every else None
    while True:
        started = time.monotonic()
        with _status(state, "newsmon run: collect, extract, enrich, alert, deliver..."):
            report = run_cycle(config, list(sources) or None, crawl=not no_crawl, force=force)
        _print_cycle(report)
        if interval is None:
            break
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    problems = report.problems()
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise NewsmonError(f"run finished with problems: {problems[0]}{more}")


def _duration_option(value: str, flag: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{flag}: {exc}") from None


def _print_cycle(report: Any) -> None:
    crawl = report.crawl
    if crawl is not None:
        for s in crawl.sources:
            status = "ok" if s.ok else f"FAILED: {s.error}"
            click.echo(f"source {s.name}: {status}; {s.stored} new articles, {s.duplicates} duplicates", err=True)
    d = report.delivery
    click.echo(f"enriched {report.enriched}, queued {report.queued} notifications, sent {d.sent}, "
               f"retrying {d.retrying}, failed {d.failed} ({report.seconds:.1f}s)", err=True)


@cli.command()
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@pass_state
def crawl(state: State, sources: tuple[str, ...]) -> None:
    """Collect and extract new articles from the sources (all by default).

    \b
    Example:
      newsmon crawl demo
    """
    from newsmon.crawlers.runner import crawl as run_crawl

    config = state.config(required=True)
    for name in sources:
        config.source(name)
    report = run_crawl(config.path, list(sources) or None, {"database": config.database})
    failed = [s for s in report.sources if not s.ok]
    for s in report.sources:
        click.echo(f"{s.name}: {'ok' if s.ok else 'FAILED: ' + str(s.error)}; {s.stored} new, "
                   f"{s.duplicates} duplicates, {s.not_articles} not articles", err=True)
    if failed:
        raise NewsmonError(f"source {failed[0].name}: {failed[0].error}")


@cli.command()
@output_options
@pass_state
def sources(state: State, fmt: str) -> None:
    """List the configured sources with their health: last success, failure streak, articles in the
    last 24 h and 7 d, and the share of articles with a title, a date and an author.

    \b
    Example:
      newsmon sources --json
    """
    from newsmon.health import source_health

    config = state.config(required=True)
    repo = state.repo()
    try:
        rows = [asdict(h) for h in source_health(config, repo, datetime.now(timezone.utc))]
    finally:
        repo.close()
    for row in rows:
        for key in ("with_title", "with_date", "with_author"):
            row[key] = None if row[key] is None else round(row[key], 2)
    render_rows(rows, ["name", "kind", "due", "last_success_at", "failures", "last_error", "articles_24h",
                       "articles_7d", "with_title", "with_date", "with_author"], fmt,
                empty="no sources configured")


@cli.command()
@click.option("--limit", type=int, help="At most this many articles.")
@pass_state
def enrich(state: State, limit: int | None) -> None:
    """Find entities and events in stored articles that were not analysed yet.

    \b
    Example:
      newsmon enrich --limit 100
    """
    from newsmon.pipeline import enrich as run_enrich

    repo = state.repo()
    try:
        with _status(state, "newsmon enrich: finding entities and events..."):
            done = run_enrich(repo, state.config(), limit)
    finally:
        repo.close()
    click.echo(f"analysed {done} articles", err=True)


@cli.command()
@pass_state
def alert(state: State) -> None:
    """Evaluate the rules on analysed articles and queue notifications.

    \b
    Example:
      newsmon alert && newsmon deliver
    """
    from newsmon.alerts.stage import alert as run_alert

    repo = state.repo()
    try:
        queued = run_alert(repo, state.config())
    finally:
        repo.close()
    click.echo(f"queued {queued} notifications", err=True)


@cli.command()
@click.option("--failed", "show_failed", is_flag=True, help="List notifications that failed for good.")
@click.option("--retry", "retry_id", type=int, metavar="ID", help="Queue a failed notification again.")
@output_options
@pass_state
def deliver(state: State, show_failed: bool, retry_id: int | None, fmt: str) -> None:
    """Send pending notifications (retries with backoff); list or retry failed ones.

    \b
    Examples:
      newsmon deliver
      newsmon deliver --failed
      newsmon deliver --retry 12
    """
    from newsmon.alerts.stage import deliver as run_deliver
    from newsmon.records import NotificationStatus

    repo = state.repo()
    try:
        if show_failed:
            rows = [{"id": n.id, "channel": n.channel, "title": n.title, "attempts": n.attempts,
                     "last_error": n.last_error} for n in repo.list_notifications(NotificationStatus.FAILED)]
            render_rows(rows, ["id", "channel", "title", "attempts", "last_error"], fmt, empty="no failed notifications")
            return
        if retry_id is not None and not repo.requeue_notification(retry_id):
            raise NewsmonError(f"notification {retry_id} does not exist or was already sent")
        report = run_deliver(repo, state.config())
    finally:
        repo.close()
    digests = f"; {report.digests} digest(s) made" if report.digests else ""
    retried = f"requeued notification {retry_id}; " if retry_id is not None else ""
    click.echo(f"{retried}sent {report.sent}, retrying {report.retrying}, failed {report.failed}{digests}", err=True)
    if report.errors:
        raise NewsmonError(report.errors[0])


# -- looking at data ------------------------------------------------------------------------------------
SEARCH_COLUMNS = ["title", "source", "published_at", "snippet", "url", "sources"]


@cli.command()
@click.argument("query", required=False)
@click.option("--entity", "entities", multiple=True, metavar="NAME", help="Mentions this entity (name or alias).")
@click.option("--type", "types", multiple=True, metavar="LABEL", help="Mentions an entity of this type (ORG, PERSON, GPE...).")
@click.option("--event", "events", multiple=True, metavar="TYPE", help="With an event of this type (FINE, BAN...).")
@click.option("--source", "sources", multiple=True, metavar="NAME", help="From this source.")
@click.option("--all-articles", is_flag=True, help="List every article, not one per story.")
@click.option("--since", metavar="DURATION", help="Published in the last DURATION (e.g. 7d, 24h).")
@click.option("--from", "date_from", metavar="DATE", help="Published on or after DATE (YYYY-MM-DD).")
@click.option("--to", "date_to", metavar="DATE", help="Published before DATE (YYYY-MM-DD).")
@click.option("--lang", metavar="CODE", help="Language code, e.g. en.")
@click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True)
@click.option("--limit", type=int, default=20, show_default=True)
@output_options
@pass_state
def search(state: State, query: str | None, entities: tuple[str, ...], types: tuple[str, ...],
           events: tuple[str, ...], sources: tuple[str, ...], all_articles: bool, since: str | None,
           date_from: str | None, date_to: str | None, lang: str | None, sort: str, limit: int,
           fmt: str) -> None:
    """Search stored articles: full text (AND, OR, NOT, "phrases", parentheses, title:) and entities.

    One story shows once (its best article, with the number of sources carrying it) unless
    --all-articles. Ranked by relevance (or --sort date); a bare QUERY matching more than 10,000
    articles ranks its 10,000 newest matches (a note on stderr says so).

    \b
    Examples:
      newsmon search Roskomnadzor
      newsmon search --type ORG --since 7d
      newsmon search 'Twitter AND office' --json
      newsmon search 'title:Google NOT appeal' --entity Roskomnadzor --csv
      newsmon search --event FINE --entity Google --since 30d
    """
    from newsmon.query import parse_query
    from newsmon.storage.search import SearchFilter, search_page

    if not (query or entities or types or events or sources):
        raise ConfigError("give a QUERY or at least one of --entity, --type, --event, --source")
    _check_event_types(events)
    config = state.config()
    f = SearchFilter(query=parse_query(query) if query else None, entities=[config.canonical_entity(e) for e in entities],
                     types=list(types), events=list(events), sources=list(sources), language=lang,
                     sort=sort, limit=limit, since=since_option(since), until=_date(date_to, "--to"),
                     per_story=not all_articles)
    if date_from:
        f.since = _date(date_from, "--from")
    repo = state.repo()
    try:
        page = search_page(repo, f)
    finally:
        repo.close()
    if page.truncated:
        click.echo(f"note: more than {f.rank_window:,} matches; ranked the newest {f.rank_window:,} "
                   "(add terms, a filter or --since to rank all, or --sort date)", err=True)
    rows = [{**asdict(h), "published_at": h.published_at} for h in page.hits]
    render_rows(rows, SEARCH_COLUMNS, fmt, empty="no matching articles")


def _check_event_types(events: tuple[str, ...]) -> None:
    from newsmon.records import EventType

    known = {t.value for t in EventType}
    for event in events:
        if event.upper() not in known:
            raise ConfigError(f"--event: unknown event type {event!r} (known: {', '.join(sorted(known))})")


def since_option(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.now(timezone.utc) - timedelta(seconds=_duration_option(value, "--since"))


def _date(value: str | None, flag: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{flag}: not a date: {value!r} (use YYYY-MM-DD)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--url", required=True, help="The URL the page was fetched from.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def extract(file: str, url: str, as_json: bool) -> None:
    """Show what newsmon extracts from one saved HTML page.

    \b
    Example:
      newsmon extract page.html --url https://example.org/news/1 --json
    """
    from newsmon.extract import extract_file

    article = extract_file(file, url)
    record = {k: v for k, v in asdict(article).items() if k not in ("id", "story_id")}
    if as_json:
        print_json(record)
        return
    for key in ("title", "authors", "published_at", "date_source", "language", "site_name", "url"):
        value = record[key]
        click.echo(f"{key:>13}: {', '.join(value) if isinstance(value, list) else value}")
    click.echo("")
    click.echo(article.text)


@cli.command()
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--published", metavar="DATE", help="Publication date, the base for relative dates.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_state
def analyze(state: State, file: Any, published: str | None, as_json: bool) -> None:
    """Show the entities and events newsmon finds in a text file (- for stdin).

    \b
    Example:
      newsmon analyze article.txt --published 2021-07-01
    """
    from newsmon.nlp import analyze_text, load_nlp

    config = state.config()
    text = file.read()
    nlp = load_nlp(config.nlp, config.watch_entities())
    analysis = analyze_text(nlp, text, _date(published, "--published"))
    if as_json:
        print_json({"entities": [asdict(m) for m in analysis.mentions],
                    "events": [asdict(e) for e in analysis.events]})
        return
    render_rows([asdict(m) for m in analysis.mentions], ["text", "label", "canonical", "start", "end"],
                "table", title="Entities", empty="no entities found")
    render_rows([asdict(e) for e in analysis.events],
                ["type", "trigger", "actor", "target", "amount", "currency", "date", "sentence"],
                "table", title="Events", empty="no events found")


@cli.command()
@click.option("--port", type=int, default=8765, show_default=True, help="Port for the local demo site (0: any).")
@pass_state
def demo(state: State, port: int) -> None:
    """Serve the bundled demo news site on 127.0.0.1 and run the whole flow into ./newsmon.db.

    No internet needed: the pages, their RSS feed and the webhook that receives the alert all run
    on this machine.

    \b
    Example:
      newsmon demo --port 0 && newsmon search Roskomnadzor
    """
    from newsmon.demo.run import run_demo

    run_demo(state.database or "sqlite:///newsmon.db", port)


@cli.command()
@click.option("--every", default="15m", show_default=True, metavar="DURATION", help="How often to run.")
@click.option("--timeout", default="30m", show_default=True, metavar="DURATION", help="Kill a run after this.")
@click.option("--install", is_flag=True, help="Add the line to your crontab (unless it is there already).")
@pass_state
def schedule(state: State, every: str, timeout: str, install: bool) -> None:
    """Print a crontab line that runs newsmon every DURATION under flock, with a timeout and a log;
    --install adds it to your crontab.

    \b
    Examples:
      newsmon schedule --every 15m >> my.crontab
      newsmon schedule --every 15m --install
    On hosts without cron use:  newsmon run --every 15m
    """
    from newsmon.setup import cron_line, install_cron_line

    line = cron_line(_duration_option(every, "--every"), _duration_option(timeout, "--timeout"),
                     state.config_path)
    click.echo(line)
    if install:
        added = install_cron_line(line)
        click.echo("added to your crontab" if added else "already in your crontab", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the checks as a JSON list.")
@pass_state
def doctor(state: State, as_json: bool) -> None:
    """Check that newsmon is ready to run: the configuration, the database and its migrations,
    the spaCy model, every channel URL (parsed, never sent to) and the sources' failure streaks.

    Prints one line per check and exits 1 if any failed.

    \b
    Examples:
      newsmon doctor
      newsmon --config /srv/newsmon/newsmon.yaml doctor --json
    """
    from newsmon.doctor import run_checks

    checks = run_checks(state.config_path, {"database": state.database})
    if as_json:
        print_json([asdict(c) for c in checks])
    else:
        for c in checks:
            click.echo(f"{'✓' if c.ok else '✗'} {c.name}: {c.detail}")
    failed = [c for c in checks if not c.ok]
    if failed:
        raise NewsmonError(f"{len(failed)} of {len(checks)} checks failed (first: {failed[0].name})")


from newsmon.cli_explore import register; register(cli)  # noqa: E402, E702, I001
from newsmon.cli_alerts import register as _register_alerts; _register_alerts(cli)  # noqa: E402, E702


def main() -> None:
    cli(prog_name="newsmon")


if __name__ == "__main__":
    main()
