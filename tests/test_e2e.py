"""The whole flow on real parts: a local site and feed, a real Scrapy crawl, the real spaCy model,
SQLite and PostgreSQL, a real SMTP server and a real webhook receiver, all on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import newsmon.demo
from newsmon.cli import cli
from newsmon.demo.server import LocalSite, serve_directory
from newsmon.records import NotificationStatus
from newsmon.storage.repository import open_repository
from tests.servers import HTTPReceiver, SMTPServer, http_receiver, smtp_server

SITE = Path(newsmon.demo.__file__).parent / "site"
pytestmark = pytest.mark.slow


@dataclass
class World:
    config: Path
    db_url: str
    site: LocalSite
    smtp: SMTPServer
    hook: HTTPReceiver


def write_config(path: Path, db_url: str, site: LocalSite, smtp: SMTPServer, hook: HTTPReceiver,
                 **extra: object) -> Path:
    config = {
        "database": db_url,
        "lock_file": str(path.parent / "newsmon.lock"),  # not ./newsmon.lock: test runs may overlap
        "crawl": {"delay": 0, "concurrency_per_domain": 8, "timeout": 10, "retries": 0},
        "delivery": {"backoff": "0s", "max_attempts": 3},
        "sources": [{"name": "demo", "url": f"{site.base_url}/feed.xml", "allow_private": True}],
        "watchlist": [{"name": "Roskomnadzor", "aliases": ["RKN"]}, {"name": "Twitter"},
                      {"name": "Google"}, {"name": "Telegram"}, {"name": "Facebook"}],
        "channels": {
            "email": f"mailto://127.0.0.1:{smtp.port}?to=analyst@example.com&from=newsmon@example.com",
            "webhook": f"json://127.0.0.1:{hook.port}/alerts",
        },
        "rules": [{"name": "roskomnadzor", "entities": {"any": ["Roskomnadzor"]},
                   "query": "Twitter OR Google OR Facebook", "notify": ["email", "webhook"]}],
        **extra,
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    with serve_directory(SITE) as site, smtp_server() as smtp, http_receiver() as hook:
        yield World(write_config(tmp_path / "newsmon.yaml", db_url, site, smtp, hook), db_url, site, smtp, hook)


def newsmon(world: World, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(world.config), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_full_cycle_alerts_once_and_second_run_sends_nothing(world: World) -> None:
    code, _, err = newsmon(world, "run")
    assert code == 0, err
    repo = open_repository(world.db_url)
    assert repo.count_articles() == 5
    # exactly one email and one webhook message, for the Putin/Twitter story only
    assert len(world.smtp.messages) == 1
    email = world.smtp.messages[0]
    assert "Putin Orders Twitter to Open Russian Office" in email["Subject"]
    html = email.get_body(("html",)).get_content()
    assert "Roskomnadzor" in html and "roskomnadzor" in html  # the reason and the rule
    assert [r["path"] for r in world.hook.requests] == ["/alerts"]
    message = world.hook.requests[0]["json"]
    assert "Putin Orders Twitter" in message["title"] and "Roskomnadzor" in message["message"]
    fetched_pages = world.site.count("/articles/")

    code, _, err = newsmon(world, "run")
    assert code == 0, err
    assert len(world.smtp.messages) == 1 and len(world.hook.requests) == 1  # nothing twice
    assert world.site.count("/articles/") == fetched_pages  # no article fetched again
    assert repo.count_articles() == 5
    assert repo.count_notifications(NotificationStatus.SENT) == 2
    repo.close()


def test_search_after_run_finds_entities_and_sentences(world: World) -> None:
    assert newsmon(world, "run")[0] == 0
    code, out, _ = newsmon(world, "search", "Roskomnadzor", "--jsonl")
    rows = [yaml.safe_load(line) for line in out.splitlines()]
    assert code == 0 and {r["title"] for r in rows} == {
        "Putin Orders Twitter to Open Russian Office", "Telegram Patches Vulnerability in New Software Update"}
    assert all("**Roskomnadzor**" in r["snippet"] for r in rows)
    code, out, _ = newsmon(world, "search", "Twitter AND office", "--csv")
    assert code == 0 and out.splitlines()[0] == "title,source,published_at,snippet,url,sources"
    assert len(out.splitlines()) == 2 and "Putin Orders Twitter" in out
    code, out, _ = newsmon(world, "search", "--entity", "RKN", "--json")
    assert code == 0 and len(yaml.safe_load(out)) == 2  # alias resolved to the watch-list entity
    code, out, _ = newsmon(world, "search", "--type", "PERSON", "--from", "2021-06-01", "--json")
    assert code == 0 and "Putin Orders Twitter to Open Russian Office" in {r["title"] for r in yaml.safe_load(out)}


def test_receiver_down_keeps_notification_pending_then_delivers_once(world: World) -> None:
    world.hook.stop()
    code, _, err = newsmon(world, "run")
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("Error: run finished with problems: notification")
    assert len(world.smtp.messages) == 1  # email went out; the webhook did not
    repo = open_repository(world.db_url)
    [pending] = repo.list_notifications(NotificationStatus.PENDING)
    assert pending.channel == "webhook" and pending.attempts == 1 and pending.last_error
    world.hook.start()
    code, _, err = newsmon(world, "deliver")
    assert code == 0, err
    assert len(world.hook.requests) == 1
    assert newsmon(world, "deliver")[0] == 0 and newsmon(world, "run")[0] == 0
    assert len(world.hook.requests) == 1 and len(world.smtp.messages) == 1
    repo.close()


def test_bad_sources_do_not_lose_what_was_collected(world: World, tmp_path: Path) -> None:
    assert newsmon(world, "run")[0] == 0
    config = yaml.safe_load(world.config.read_text())
    config["sources"].append({"name": "broken", "url": f"{world.site.base_url}/broken/malformed-feed.xml",
                              "allow_private": True})
    world.config.write_text(yaml.safe_dump(config))
    code, _, err = newsmon(world, "run")
    assert code == 1 and "source broken:" in err.strip().splitlines()[-1]
    repo = open_repository(world.db_url)
    assert repo.count_articles() == 5 and repo.get_source_state("broken").failures == 1
    assert len(world.smtp.messages) == 1
    repo.close()


def test_run_polls_due_sources_only_and_reports_a_failing_source_once(world: World) -> None:
    """`newsmon run` end to end: a source polled within its interval is skipped; one that fails
    run after run raises one notice when the streak reaches `health.failures`, one on recovery."""
    config = yaml.safe_load(world.config.read_text())
    config["sources"][0]["poll_interval"] = "1h"
    config["sources"].append({"name": "flaky", "url": f"{world.site.base_url}/broken/malformed-feed.xml",
                              "poll_interval": "30s", "allow_private": True})  # always due
    config["health"] = {"failures": 2, "notify": ["webhook"]}
    world.config.write_text(yaml.safe_dump(config))

    codes = [newsmon(world, "run")[0] for _ in range(3)]
    assert codes == [1, 1, 1]  # the flaky source fails every run; the demo articles stay stored
    assert world.site.count("/feed.xml") == 1  # the demo feed: polled once, not due again within 1h
    assert world.site.count("/broken/malformed-feed.xml") == 3
    repo = open_repository(world.db_url)
    assert repo.count_articles() == 5 and repo.get_source_state("flaky").failures == 3
    repo.close()

    def health_titles() -> list[str]:
        return [r["json"]["title"] for r in world.hook.requests if "source flaky" in r["json"]["title"]]
    assert health_titles() == ["[newsmon] source flaky is failing"]  # at the 2nd failure, not again at the 3rd

    config["sources"][1]["url"] = f"{world.site.base_url}/feed.xml"  # the source is readable again
    world.config.write_text(yaml.safe_dump(config))
    code, _, err = newsmon(world, "run")
    assert code == 0, err
    assert health_titles() == ["[newsmon] source flaky is failing", "[newsmon] source flaky recovered"]
    code, out, _ = newsmon(world, "sources", "--json")
    rows = {row["name"]: row for row in yaml.safe_load(out)}
    assert code == 0 and rows["flaky"]["failures"] == 0 and rows["demo"]["due"] is False
