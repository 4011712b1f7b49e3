"""Exploration commands: `entities`, `entity`, `events`, `stories` (queries in newsmon.explore).

Each command parses options, calls one newsmon.explore function, renders. Registered on the main
group by `register(cli)` at the end of newsmon.cli.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import click

from newsmon.output import output_options, print_json, render_rows
from newsmon.records import EventType

ENTITY_COLUMNS = ["name", "type", "mentions", "articles", "watched"]
TRENDING_COLUMNS = ["name", "type", "mentions", "baseline", "ratio", "articles", "watched"]
EVENT_COLUMNS = ["published_at", "type", "actor", "target", "amount", "currency", "date", "sentence"]
STORY_COLUMNS = ["id", "headline", "articles", "sources", "first_seen", "latest"]
SPARKS = "▁▂▃▄▅▆▇█"
TREND_WINDOWS = 4

_limit = click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most N rows.")


def _since_option(default: str) -> Any:
    return click.option("--since", default=default, show_default=True, metavar="DURATION",
                        help="The window: the last DURATION (e.g. 24h, 7d, 4w).")


@click.command()
@click.option("--type", "types", multiple=True, metavar="LABEL", help="Only this entity type (ORG, PERSON, GPE...).")
@_since_option("7d")
@click.option("--watched", is_flag=True, help="Only watch-list entities.")
@click.option("--trending", is_flag=True,
              help=f"Rank by rise: mentions in the window against the mean of the {TREND_WINDOWS} windows "
                   "before it, (n + 1) / (mean + 1); at least 2 mentions.")
@_limit
@output_options
@click.pass_obj
def entities(state: Any, types: tuple[str, ...], since: str, watched: bool, trending: bool, limit: int,
             fmt: str) -> None:
    """Top entities in a window by mentions (then distinct articles); --trending ranks by rise.

    \b
    Examples:
      newsmon entities --type ORG --since 7d
      newsmon entities --watched --trending --since 24h --json
    """
    from newsmon.explore import EntityFilter, top_entities, trending_entities

    f = EntityFilter(since=_window_start(since), types=list(types), watched=watched, limit=limit)
    repo = state.repo()
    try:
        found: list[Any] = trending_entities(repo, f, TREND_WINDOWS) if trending else top_entities(repo, f)
    finally:
        repo.close()
    render_rows([asdict(e) for e in found], TRENDING_COLUMNS if trending else ENTITY_COLUMNS, fmt,
                empty="no entities in this window")


@click.command()
@click.argument("name")
@click.option("--type", "types", multiple=True, metavar="LABEL", help="Only the entity of this type.")
@_since_option("30d")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True, help="Rows per section.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def entity(state: Any, name: str, types: tuple[str, ...], since: str, limit: int, as_json: bool) -> None:
    """One entity (canonical name or watch-list alias): its surface forms, mentions per day,
    the entities most often mentioned with it, and its latest events and articles.

    \b
    Examples:
      newsmon entity Roskomnadzor
      newsmon entity RKN --since 90d --json
    """
    from newsmon.explore import entity_profile

    canonical = state.config().canonical_entity(name)
    repo = state.repo()
    try:
        profile = entity_profile(repo, canonical, _window_start(since), types=list(types), limit=limit)
    finally:
        repo.close()
    if profile is None:
        if as_json:
            print_json(None)
        click.echo(f"no entity named {canonical!r} is stored", err=True)
        return
    if as_json:
        print_json(asdict(profile))
        return
    _print_profile(profile)


def _print_profile(p: Any) -> None:
    watched = ", watch list" if p.watched else ""
    click.echo(f"{p.name} ({'/'.join(p.types)}{watched}): {p.mentions} mentions in {p.articles} articles, "
               f"{p.timeline[0].day} .. {p.timeline[-1].day}")
    peak = max(p.timeline, key=lambda d: d.mentions)
    click.echo(f"mentions per day: {render_sparkline([d.mentions for d in p.timeline])}"
               + (f"  (max {peak.mentions} on {peak.day})" if peak.mentions else ""))
    render_rows([asdict(s) for s in p.surface_forms], ["text", "mentions"], "table", title="Surface forms",
                empty="no mentions in this window")
    render_rows([asdict(c) for c in p.co_mentions], ["name", "type", "articles"], "table",
                title="Mentioned with", empty="no co-mentioned entities in this window")
    render_rows([asdict(e) for e in p.latest_events], EVENT_COLUMNS, "table", title="Latest events",
                empty="no events mention it")
    render_rows([asdict(a) for a in p.latest_articles], ["published_at", "title", "source", "url"], "table",
                title="Latest articles", empty="no articles mention it")


def render_sparkline(values: list[int]) -> str:
    """One block character per value, scaled to the largest; zero is the lowest block, any
    mention at least the second lowest so quiet days stay distinguishable from empty ones."""
    top = max(values, default=0)
    if top == 0:
        return SPARKS[0] * len(values)
    return "".join(SPARKS[0] if v == 0 else SPARKS[max(1, round(v / top * (len(SPARKS) - 1)))] for v in values)


@click.command()
@click.option("--type", "types", multiple=True, type=click.Choice([t.value for t in EventType], case_sensitive=False),
              help="Only this event type (repeatable).")
@click.option("--entity", "entity_name", metavar="NAME", help="Only events whose sentence mentions NAME (or alias).")
@_since_option("30d")
@_limit
@output_options
@click.pass_obj
def events(state: Any, types: tuple[str, ...], entity_name: str | None, since: str, limit: int, fmt: str) -> None:
    """Events (fines, bans, court actions, breaches...) newest first, with actor, target, amount and sentence.

    For DATA_BREACH and RANSOMWARE the target is the victim (the organisation breached or held to
    ransom), empty when the article names none.

    \b
    Examples:
      newsmon events --type FINE --since 90d
      newsmon events --entity Twitter --csv
    """
    from newsmon.explore import EventFilter, list_events

    f = EventFilter(types=[EventType(t.upper()) for t in types], since=_window_start(since), limit=limit,
                    entity=state.config().canonical_entity(entity_name) if entity_name else None)
    repo = state.repo()
    try:
        found = list_events(repo, f)
    finally:
        repo.close()
    render_rows([asdict(e) for e in found], EVENT_COLUMNS, fmt, empty="no events in this window")


@click.command()
@_since_option("7d")
@click.option("--sort", type=click.Choice(["latest", "sources"]), default="latest", show_default=True,
              help="latest: newest article first; sources: most distinct sources first.")
@_limit
@output_options
@click.pass_obj
def stories(state: Any, since: str, sort: str, limit: int, fmt: str) -> None:
    """Stories with an article in the window, with their article and distinct-source counts.

    \b
    Examples:
      newsmon stories --since 24h
      newsmon stories --since 7d --sort sources --json
    """
    from newsmon.explore import list_stories

    repo = state.repo()
    try:
        found = list_stories(repo, since=_window_start(since), sort=sort, limit=limit)
    finally:
        repo.close()
    render_rows([asdict(s) for s in found], STORY_COLUMNS, fmt, empty="no stories in this window")


def _window_start(since: str) -> datetime:
    from newsmon.cli import since_option

    start = since_option(since)
    assert start is not None  # every exploration command has a --since default
    return start


def register(group: click.Group) -> None:
    """Add the exploration commands to the `newsmon` group."""
    for command in (entities, entity, events, stories):
        group.add_command(command)
