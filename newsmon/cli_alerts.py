"""`newsmon rules check|test` and `newsmon channels test`: registered on the main CLI group."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import click

from newsmon.config import parse_duration
from newsmon.errors import ConfigError
from newsmon.output import output_options, render_rows


def register(cli: click.Group) -> None:
    cli.add_command(rules)
    cli.add_command(channels)


@click.group()
def rules() -> None:
    """Check alert rules, and try them on stored history."""


@rules.command("check")
@click.option("--file", "rules_file", type=click.Path(exists=True, dir_okay=False),
              help="Check the rules in this YAML file (a list, or a mapping with `rules:`).")
@click.pass_obj
def rules_check(state, rules_file: str | None) -> None:  # type: ignore[no-untyped-def]
    """Parse every rule and report each problem with its file, line and rule; exit 2 on any.

    \b
    Examples:
      newsmon rules check
      newsmon rules check --file more-rules.yaml
    """
    from newsmon.alerts.check import check_rules

    count, problems = check_rules(state.config_path, rules_file)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in {count} rule(s)")
    click.echo(f"{count} rule(s) OK", err=True)


@rules.command("test")
@click.argument("rule_name", metavar="RULE")
@click.option("--since", default="30d", show_default=True, metavar="DURATION", help="How far back to look.")
@click.option("--file", "rules_file", type=click.Path(exists=True, dir_okay=False),
              help="Take RULE from this YAML file instead of the configuration.")
@click.option("--examples", default=3, show_default=True, help="How many stories to show explained.")
@output_options
@click.pass_obj
def rules_test(state, rule_name: str, since: str, rules_file: str | None, examples: int, fmt: str) -> None:  # type: ignore[no-untyped-def]
    """Run RULE over stored articles without sending anything: stories it would have fired on,
    per day, and the first few explained; for a spike rule, each window it would have fired on.

    \b
    Examples:
      newsmon rules test russian-regulator --since 30d
      newsmon rules test draft-rule --file draft.yaml --json
    """
    from newsmon.alerts.backtest import backtest_rule

    config = state.config()
    rule = _find_rule(config, rule_name, rules_file)
    try:
        window = parse_duration(since)
    except ValueError as exc:
        raise ConfigError(f"--since: {exc}") from None
    repo = state.repo()
    try:
        report = backtest_rule(repo, config, rule, datetime.now(timezone.utc) - timedelta(seconds=window),
                               examples=examples)
    finally:
        repo.close()
    if report.spikes is not None:
        _render_spikes(rule.name, report, fmt)
        return
    rows = [{"day": day.isoformat(), "stories": n} for day, n in report.stories_per_day.items()]
    render_rows(rows, ["day", "stories"], fmt, title=f"rule {rule.name}: stories per day",
                empty="no stories would have fired")
    if fmt == "table":
        for example in report.examples:
            click.echo(f"\n--- story {example.story_id}: {example.title}\n{example.text}", nl=False)
    click.echo(f"rule {rule.name}: {report.stories} stories ({report.matched_articles} matching articles) "
               f"since {report.since:%Y-%m-%d}; {report.candidates} articles evaluated in "
               f"{report.seconds:.2f}s; nothing sent", err=True)


def _render_spikes(name: str, report, fmt: str) -> None:  # type: ignore[no-untyped-def]
    """One row per alert the spike rule would have sent: when its window ended, who surged."""
    rows = [{"window_end": f"{f.at:%Y-%m-%d %H:%M}", "entity": f.entity, "articles": f.count,
             "expected": round(f.expected, 1)} for f in report.spikes]
    render_rows(rows, ["window_end", "entity", "articles", "expected"], fmt,
                title=f"spike rule {name}: windows it would have fired on", empty="no spike would have fired")
    days = len(report.stories_per_day)
    click.echo(f"rule {name}: {len(rows)} spike alerts on {days} days since {report.since:%Y-%m-%d}, "
               f"checked in {report.seconds:.2f}s; nothing sent", err=True)


def _find_rule(config, name: str, rules_file: str | None):  # type: ignore[no-untyped-def]
    from pathlib import Path

    from newsmon.alerts.check import read_rule_entries
    from newsmon.alerts.rules import compile_rule
    from newsmon.config import Rule, expand_env

    names = {w.name for w in config.watchlist}
    if rules_file:
        for entry in read_rule_entries(Path(rules_file)):
            if isinstance(entry.data, dict) and entry.data.get("name") == name:
                try:
                    return compile_rule(Rule.model_validate(expand_env(entry.data, rules_file)), names)
                except ValueError as exc:  # pydantic's ValidationError is a ValueError
                    raise ConfigError(f"{rules_file}:{entry.line}: rule {name!r}: {exc}".splitlines()[0]) from None
        raise ConfigError(f"{rules_file}: no rule named {name!r}")
    for rule in config.rules:
        if rule.name == name:
            return compile_rule(rule, names)
    known = ", ".join(r.name for r in config.rules) or "none configured"
    raise ConfigError(f"unknown rule {name!r} (known: {known})")


@click.group()
def channels() -> None:
    """Notification channels (apprise URLs)."""


@channels.command("list")
@output_options
@click.pass_obj
def channels_list(state, fmt: str) -> None:  # type: ignore[no-untyped-def]
    """List the configured channels (URLs masked), their digest mode and rate limit.

    \b
    Example:
      newsmon channels list --json
    """
    from newsmon.alerts.deliver import describe_channel

    config = state.config()
    rows = [{"name": name, "url": describe_channel(config.channel(name).url),
             "digest": config.channel(name).digest, "rate_limit": config.channel(name).rate_limit}
            for name in config.channels]
    render_rows(rows, ["name", "url", "digest", "rate_limit"], fmt, empty="no channels configured")


@channels.command("test")
@click.argument("name")
@click.pass_obj
def channels_test(state, name: str) -> None:  # type: ignore[no-untyped-def]
    """Send a test message to channel NAME; report success, or the error with secrets masked.

    \b
    Example:
      newsmon channels test security-slack
    """
    from newsmon.alerts.deliver import send_test

    config = state.config(required=True)
    channel = config.channel(name)
    described = send_test(channel.url, config.delivery.timeout)  # DeliveryError: exit 1, masked
    click.echo(f"channel {name}: test message delivered to {described}", err=True)
