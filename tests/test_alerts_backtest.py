"""`rules test` for spike rules on both databases: the windows a surge would have fired on,
checked against the alert stage's own check at those moments, and through the CLI."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from click.testing import CliRunner

from newsmon.alerts.backtest import backtest_rule
from newsmon.alerts.spikes import find_surges
from newsmon.alerts.stage import compile_rules
from newsmon.cli import cli
from newsmon.storage.repository import Repository, open_repository, utcnow
from tests.test_alerting import NOW, make_config, store

SPIKE = {"name": "surge", "notify": ["hook"],
         "spike": {"entities": "watchlist", "window": "24h", "baseline": "14d", "factor": 3, "min_count": 5}}
DAY = NOW.replace(hour=0, minute=0)


def store_surge(repo: Repository, day: object) -> None:
    """Twitter: 6 articles from 10:30 to 15:30 on `day`, 1 five days before; Google: 3 every day."""
    for hour in range(6):
        store(repo, hour, entities=("Twitter",), published=day + timedelta(hours=10 + hour, minutes=30))  # type: ignore[operator]
    store(repo, 10, entities=("Twitter",), published=day - timedelta(days=5))  # type: ignore[operator]
    for n in range(60):
        store(repo, 100 + n, entities=("Google",), published=day - timedelta(days=17 - n // 3, hours=n % 3 * 7))  # type: ignore[operator]


def test_spike_backtest_lists_the_window_the_stage_would_have_fired_on(repo: Repository) -> None:
    config = make_config(rules=[SPIKE])
    store_surge(repo, DAY)
    [rule] = compile_rules(config)
    report = backtest_rule(repo, config, rule, DAY - timedelta(days=3), until=DAY + timedelta(days=3))
    assert report.spikes is not None
    [firing] = report.spikes  # once: not again while the surge lasts, Google never (steady)
    assert (firing.at, firing.entity, firing.count) == (DAY + timedelta(hours=15), "Twitter", 5)
    assert firing.expected == 1 * 24 / (14 * 24)
    assert report.stories_per_day == {DAY.date(): 1}
    surges = {s.entity: s for s in find_surges(repo, config, rule, firing.at)}  # the stage agrees
    assert set(surges) == {"Twitter"} and surges["Twitter"].count == 5
    assert find_surges(repo, config, rule, firing.at - timedelta(hours=1)) == []  # and not an hour before


def test_rules_test_prints_spike_windows(sqlite_url: str, tmp_path: Path) -> None:
    repo = open_repository(sqlite_url, upgrade=True)
    day = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    store_surge(repo, day)
    path = tmp_path / "newsmon.yaml"
    path.write_text(yaml.safe_dump({"database": sqlite_url, "watchlist": [{"name": "Twitter"}, {"name": "Google"}],
                                    "channels": {"hook": "json://127.0.0.1:9/x"}, "rules": [SPIKE]}))
    result = CliRunner().invoke(cli, ["--config", str(path), "rules", "test", "surge", "--since", "7d", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load(result.stdout) == [{"window_end": f"{day + timedelta(hours=15):%Y-%m-%d %H:%M}",
                                              "entity": "Twitter", "articles": 5, "expected": 0.1}]
    assert "rule surge: 1 spike alerts on 1 days since" in result.stderr and "nothing sent" in result.stderr
    table = CliRunner().invoke(cli, ["--config", str(path), "rules", "test", "surge"], catch_exceptions=False)
    assert "Twitter" in table.stdout and f"{day + timedelta(hours=15):%Y-%m-%d %H:%M}" in table.stdout
    assert repo.count_notifications() == 0
    repo.close()


TEXTS = [("Hospital hit", "A hospital was hit by ransomware on Monday."),
         ("Gang leaks files", "A ransomware gang leaked files."),
         ("Hospitals reopen", "Hospitals reopened after the storm."),
         ("Weather", "Sunny weather all week, hospitals say."),
         ("Ransomware again", "The hospital's systems are back."),
         ("Quiet day", "Nothing happened.")]


def test_query_rule_backtest_reads_only_articles_with_its_words(repo: Repository, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from newsmon.alerts import backtest
    from newsmon.records import Analysis, Article

    for n, (title, text) in enumerate(TEXTS):
        saved = repo.save_article(Article(url=f"https://news.example/q/{n}", source="demo", title=title, text=text,
                                          fetched_at=NOW, published_at=NOW - timedelta(hours=n), content_hash=f"q{n}"))
        repo.save_analysis(saved.article_id, Analysis([]))
    config = make_config(rules=[{"name": "both", "query": "ransomware AND hospital", "notify": ["hook"]},
                                {"name": "prefix", "query": "hosp* NOT weather", "notify": ["hook"]}])
    both, prefix = compile_rules(config)
    since = NOW - timedelta(days=1)
    found = {r.name: backtest_rule(repo, config, r, since, until=NOW + timedelta(hours=1)) for r in (both, prefix)}
    assert found["both"].matched_articles == 2 and 2 <= found["both"].candidates <= 3  # not all six
    assert found["prefix"].matched_articles == 3 and found["prefix"].candidates == 4  # hosp*: four articles
    monkeypatch.setattr(backtest, "_prefilter", lambda rule: {})  # reading every article finds the same
    for rule in (both, prefix):
        full = backtest_rule(repo, config, rule, since, until=NOW + timedelta(hours=1))
        assert full.candidates == len(TEXTS)
        assert (full.matched_articles, full.stories_per_day) == (found[rule.name].matched_articles,
                                                                 found[rule.name].stories_per_day)
