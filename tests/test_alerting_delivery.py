"""Delivery against real receivers on 127.0.0.1, through the CLI and in subprocesses: retries
until a receiver is back, a deliverer killed with SIGKILL mid-batch, failed/retry, channel tests,
rate limits; and `rules check` / `rules test`."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from newsmon.alerts.stage import alert, deliver
from newsmon.cli import cli
from newsmon.records import Notification, NotificationStatus
from newsmon.storage.outbox import insert_notification
from newsmon.storage.repository import Repository, open_repository, utcnow
from tests.servers import free_port, http_receiver
from tests.test_alerting import NOW, WATCHLIST, fine, make_config, store


class SlowReceiver:
    """Answers 200 after `delay` seconds; records the X-Newsmon-Key of every request on arrival."""

    def __init__(self, delay: float) -> None:
        self.delay, self.keys, self.port = delay, [], free_port()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.keys.append(self.headers.get("X-Newsmon-Key"))
                time.sleep(receiver.delay)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow() -> Iterator[SlowReceiver]:
    receiver = SlowReceiver(0.4)
    yield receiver
    receiver.close()


def write_config(tmp_path: Path, db_url: str, hook_url: str, **extra: Any) -> Path:
    path = tmp_path / "newsmon.yaml"
    data = {"database": db_url, "watchlist": WATCHLIST, "channels": {"hook": hook_url},
            "rules": [{"name": "rkn", "entities": {"any": ["Roskomnadzor"]}, "notify": ["hook"]}],
            "delivery": {"backoff": "0s", "max_attempts": 3, "timeout": 1}, **extra}
    path.write_text(yaml.safe_dump(data))
    return path


def queue(repo: Repository, count: int) -> list[str]:
    keys = [f"test:{i}:hook:v1" for i in range(count)]
    with repo.engine.begin() as conn:
        for key in keys:
            insert_notification(repo, conn, Notification("hook", key, "body", key), utcnow())
    return keys


def newsmon(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_receiver_down_for_the_first_attempts_then_up_gets_it_exactly_once(repo: Repository) -> None:
    with http_receiver() as http:
        config = make_config(channels={"hook": f"json://127.0.0.1:{http.port}/hook"},
                             delivery={"backoff": "0s", "max_attempts": 5, "timeout": 1})
        store(repo, 1, [fine()])
        alert(repo, config, now=NOW)
        http.stop()
        assert [deliver(repo, config).retrying for _ in range(2)] == [1, 1]
        http.start()
        assert deliver(repo, config).sent == 1
        assert deliver(repo, config).sent == 0
    [request] = http.requests
    [note] = repo.list_notifications()
    assert (note.status, note.attempts) == (NotificationStatus.SENT, 3)
    assert request["headers"]["X-Newsmon-Key"] == note.key


def test_deliverer_killed_mid_batch_loses_nothing(db_url: str, tmp_path: Path, slow: SlowReceiver) -> None:
    config = write_config(tmp_path, db_url, f"json://127.0.0.1:{slow.port}/hook")
    repo = open_repository(db_url, upgrade=True)
    expected = queue(repo, 10)
    command = [sys.executable, "-m", "newsmon", "--config", str(config), "deliver"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(slow.keys) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert 3 <= len(slow.keys) < 10, "killed mid-batch"
    subprocess.run(command, capture_output=True, timeout=120)  # the restart
    time.sleep(2 * 1 + 5)  # the killed deliverer's claim (2 x timeout + 5s) runs out
    subprocess.run(command, capture_output=True, timeout=120)
    assert set(slow.keys) == set(expected)  # every notification arrived
    assert len(slow.keys) - len(set(slow.keys)) <= 1  # at most the one in flight twice
    assert repo.count_notifications(NotificationStatus.SENT) == 10
    repo.close()


def test_failed_then_listed_then_retried_through_the_cli(sqlite_url: str, tmp_path: Path) -> None:
    with http_receiver() as http:
        config = write_config(tmp_path, sqlite_url, f"json://127.0.0.1:{http.port}/hook",
                              delivery={"backoff": "0s", "max_attempts": 1, "timeout": 1})
        repo = open_repository(sqlite_url, upgrade=True)
        queue(repo, 1)
        http.status = 500
        code, _, err = newsmon(config, "deliver")
        assert code == 1 and "sent 0, retrying 0, failed 1" in err
        code, out, _ = newsmon(config, "deliver", "--failed", "--json")
        [row] = yaml.safe_load(out)
        assert code == 0 and row["attempts"] == 1 and "error=500" in row["last_error"]
        http.status = 200
        code, _, err = newsmon(config, "deliver", "--retry", str(row["id"]))
        assert code == 0 and f"requeued notification {row['id']}; sent 1" in err
        assert newsmon(config, "deliver", "--retry", str(row["id"]))[0] == 1  # sent: never again
        assert len(http.requests) == 2 and repo.count_notifications(NotificationStatus.SENT) == 1
        repo.close()


def test_channels_test_reports_success_and_masks_the_secret(sqlite_url: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSMON_TEST_TOKEN", "s3cr3t-hook-token")
    with http_receiver() as http:
        config = write_config(tmp_path, sqlite_url, f"json://127.0.0.1:{http.port}/" + "${NEWSMON_TEST_TOKEN}")
        code, _, err = newsmon(config, "channels", "test", "hook")
        assert code == 0 and err == f"channel hook: test message delivered to json://127.0.0.1:{http.port}\n"
        assert http.requests[0]["json"]["title"] == "[newsmon] test message"
        http.status = 403
        code, _, err = newsmon(config, "channels", "test", "hook")
    last = err.strip().splitlines()[-1]  # apprise's own warning is logged above it
    assert code == 1 and last.startswith(f"Error: delivery to json://127.0.0.1:{http.port} failed:")
    assert "s3cr3t" not in err
    assert newsmon(config, "channels", "test", "nope")[0] == 2


def test_rate_limit_spaces_messages(repo: Repository) -> None:
    with http_receiver() as http:
        config = make_config(channels={"hook": {"url": f"json://127.0.0.1:{http.port}/h", "rate_limit": "5/s"}})
        queue(repo, 4)
        started = time.monotonic()
        assert deliver(repo, config).sent == 4
        assert time.monotonic() - started >= 0.6  # 3 gaps of 0.2s
    assert len(http.requests) == 4


def test_rules_check_names_file_line_rule_and_problem(tmp_path: Path) -> None:
    (tmp_path / "more.yaml").write_text("rules:\n  - name: included\n    events: [FINED]\n")
    config = tmp_path / "newsmon.yaml"
    config.write_text(
        "include: [more.yaml]\n"
        f"database: sqlite:///{tmp_path / 'n.db'}\n"
        "watchlist: [{name: Twitter}]\n"
        "channels: {hook: 'json://127.0.0.1:9/x'}\n"
        "rules:\n"
        "  - name: ok\n    entities: {any: [Twitter]}\n    notify: [hook]\n"
        "  - name: bad\n    entities: {any: [Netflix]}\n    query: 'twitter AND'\n    notify: [nope]\n"
        "  - name: typo\n    evnets: [FINE]\n")
    code, _, err = newsmon(config, "rules", "check")
    assert code == 2
    assert err.splitlines() == [
        f"{tmp_path / 'more.yaml'}:2: rule 'included': events: unknown event type 'FINED' (known: "
        "FINE, LAW, BAN, BLOCK_OR_THROTTLE, COURT_ACTION, ORDER, DATA_BREACH, RANSOMWARE, PHISHING, "
        "VULNERABILITY, PATCH)",
        f"{config}:9: rule 'bad': entities.any: 'Netflix' is not in the watchlist",
        f"{config}:9: rule 'bad': query: bad query at position 9: AND needs a term after it",
        f"{config}:9: rule 'bad': notify: unknown channel 'nope' (known: hook)",
        f"{config}:13: rule 'typo': evnets: unknown key",
        "Error: 5 problem(s) in 4 rule(s)",
    ]
    assert newsmon(config, "run")[0] == 2  # run refuses to start too
    (tmp_path / "good.yaml").write_text("- name: fine\n  entities: {any: [twitter]}\n")
    assert newsmon(config, "rules", "check", "--file", str(tmp_path / "good.yaml")) == (0, "", "1 rule(s) OK\n")


def test_rules_check_only_finds_duplicates_among_text_names(tmp_path: Path) -> None:
    # two nameless rules are no duplicates; a list as name is a wrong type, not a crash
    rules = tmp_path / "rules.yaml"
    rules.write_text("- {events: [FINE]}\n- {events: [LAW]}\n- {name: [a, b], events: [FINE]}\n"
                     "- {name: same, events: [FINE]}\n- {name: same, events: [LAW]}\n")
    config = tmp_path / "newsmon.yaml"
    config.write_text(f"database: sqlite:///{tmp_path / 'n.db'}\n")
    code, _, err = newsmon(config, "rules", "check", "--file", str(rules))
    assert code == 2
    assert err.splitlines() == [
        f"{rules}:1: rule #1: name: Field required",
        f"{rules}:2: rule #2: name: Field required",
        f"{rules}:3: rule ['a', 'b']: name: Input should be a valid string",
        f"{rules}:5: rule 'same': name: duplicate rule name",
        "Error: 4 problem(s) in 5 rule(s)",
    ]


def test_rules_test_backtests_without_sending(sqlite_url: str, tmp_path: Path) -> None:
    from datetime import timedelta

    repo = open_repository(sqlite_url, upgrade=True)
    today = utcnow().replace(hour=10, minute=0, second=0, microsecond=0)
    first, _ = store(repo, 1, [fine()], published=today - timedelta(days=2))
    store(repo, 2, [fine()], story_of=first, published=today - timedelta(days=1))
    store(repo, 3, [fine()], published=today - timedelta(days=1))
    store(repo, 4, [fine()], entities=("Google",), published=today)
    store(repo, 5, [fine()], published=today - timedelta(days=60))  # outside --since
    config = write_config(tmp_path, sqlite_url, "json://127.0.0.1:9/x")
    code, out, err = newsmon(config, "rules", "test", "rkn", "--since", "30d", "--json")
    assert code == 0, err
    assert yaml.safe_load(out) == [{"day": str((today - timedelta(days=2)).date()), "stories": 1},
                                   {"day": str((today - timedelta(days=1)).date()), "stories": 1}]
    assert "rule rkn: 2 stories (3 matching articles)" in err and "nothing sent" in err
    code, out, _ = newsmon(config, "rules", "test", "rkn")
    assert code == 0 and "Rule rkn matched:" in out and "entity Roskomnadzor" in out
    rules_file = tmp_path / "draft.yaml"
    rules_file.write_text("rules:\n  - name: draft\n    entities: {any: [Google]}\n")
    code, out, _ = newsmon(config, "rules", "test", "draft", "--file", str(rules_file), "--json")
    assert code == 0 and [r["stories"] for r in yaml.safe_load(out)] == [1]
    assert repo.count_notifications() == 0 and repo.count_articles() == 5
    repo.close()
