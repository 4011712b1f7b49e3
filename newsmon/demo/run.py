"""`newsmon demo`: the whole flow on bundled pages served on 127.0.0.1, no internet needed."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel

from newsmon.config import load_config
from newsmon.demo.receiver import WebhookReceiver

SITE = Path(__file__).parent / "site"
WATCHLIST = [
    {"name": "Roskomnadzor", "type": "ORG", "aliases": ["RKN", "Russia's communications regulator"]},
    {"name": "Twitter", "type": "ORG", "aliases": ["X Corp", "X Corp."]},
    {"name": "Google", "type": "ORG", "aliases": ["Alphabet"]},
    {"name": "Telegram", "type": "ORG"},
    {"name": "Facebook", "type": "ORG", "aliases": ["Meta"]},
]
RULE = {"name": "russian-regulator", "entities": {"any": ["Roskomnadzor"]},
        "query": "Twitter OR Google OR Facebook", "notify": ["demo-webhook"]}


def demo_config(database: str, site_url: str, webhook_url: str) -> dict[str, Any]:
    return {
        "database": database,
        "crawl": {"delay": 0, "concurrency_per_domain": 8, "timeout": 10},
        "sources": [{"name": "demo-daily", "kind": "feed", "url": f"{site_url}/feed.xml",
                     "allow_private": True, "tags": ["demo"]}],
        "watchlist": WATCHLIST,
        "channels": {"demo-webhook": webhook_url},
        "rules": [RULE],
    }


def run_demo(database: str, port: int) -> None:
    from newsmon.demo.server import serve_directory
    from newsmon.pipeline import run_cycle

    console = Console(stderr=False)
    with ExitStack() as stack:
        site = stack.enter_context(_serve(serve_directory, port))
        hook = stack.enter_context(WebhookReceiver())
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="newsmon-demo-")))
        config_file = workdir / "newsmon.yaml"
        config_file.write_text(yaml.safe_dump(demo_config(database, site.base_url, hook.url)))
        config = load_config(config_file)
        console.print(f"[bold]newsmon demo[/]: serving {len(list((SITE / 'articles').glob('*.html')))} "
                      f"bundled articles and their RSS feed at {site.base_url}, storing in {database}")
        report = run_cycle(config)
        _show(console, config, report, hook.messages)


def _serve(serve_directory: Any, port: int) -> Any:
    try:
        return serve_directory(SITE, port=port)
    except OSError:
        return serve_directory(SITE, port=0)  # the preferred port is taken


def _show(console: Console, config: Any, report: Any, messages: list[dict[str, Any]]) -> None:
    from newsmon.storage.repository import open_repository

    for s in getattr(report.crawl, "sources", []):
        console.print(f"collected from {s.name}: {s.stored} new articles "
                      f"({s.duplicates} already stored){'' if s.ok else ' - FAILED: ' + str(s.error)}")
    console.print(f"analysed {report.enriched} articles; rule [bold]{RULE['name']}[/] queued "
                  f"{report.queued} notification(s); delivered {report.delivery.sent}")
    repo = open_repository(config.database)
    try:
        _show_entities(console, repo)
    finally:
        repo.close()
    if not messages:
        console.print("no new alert: this story was already alerted in an earlier run (nothing is sent twice)")
    for message in messages:
        console.print(Panel(Markdown(message.get("message", "")), title=message.get("title", "alert"),
                            subtitle="received by the local webhook (apprise json://)"))
    console.print("next: [bold]newsmon search Roskomnadzor[/], [bold]newsmon search --type ORG --since 30d[/]")


def _show_entities(console: Console, repo: Any) -> None:
    from rich.table import Table

    from newsmon.query import parse_query
    from newsmon.storage.search import SearchFilter, search_articles

    hits = search_articles(repo, SearchFilter(query=parse_query("Roskomnadzor AND Twitter"), limit=1))
    if not hits:
        return
    analysis = repo.load_analysis(hits[0].article_id)
    watched = sorted({m.canonical for m in analysis.mentions if m.watched})
    console.print(f"[bold]{hits[0].title}[/]: {len(analysis.mentions)} entity mentions; "
                  f"watch list: {', '.join(watched)}")
    table = Table(title="events found in it", header_style="bold")
    for column in ("type", "trigger", "actor", "target", "amount", "date"):
        table.add_column(column)
    for e in analysis.events:
        amount = f"{e.amount:,.0f} {e.currency or ''}" if e.amount else ""
        table.add_row(e.type.value, e.trigger, e.actor or "", e.target or "", amount, e.date or "")
    console.print(table)
