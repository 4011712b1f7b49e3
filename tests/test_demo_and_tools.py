"""The README's first commands: `newsmon demo`, `newsmon extract`, `newsmon analyze`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import newsmon.demo
from newsmon.cli import cli

PAGE = Path(newsmon.demo.__file__).parent / "site" / "articles" / "putin-twitter-office.html"


@pytest.mark.slow
def test_demo_runs_the_whole_flow_and_shows_the_alert(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "newsmon", "demo", "--port", "0"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert "collected from demo-daily: 5 new articles" in proc.stdout
    assert "delivered 1" in proc.stdout and "received by the local webhook" in proc.stdout
    assert "BLOCK_OR_THROTTLE" in proc.stdout  # the story's events are shown
    assert (tmp_path / "newsmon.db").exists()
    again = subprocess.run([sys.executable, "-m", "newsmon", "demo", "--port", "0"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert again.returncode == 0, again.stderr
    assert "no new alert" in again.stdout  # nothing is sent twice


def test_extract_prints_record_fields_as_json(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(PAGE.read_text().replace("{{BASE_URL}}", "https://demo.example"))
    result = CliRunner().invoke(cli, ["extract", str(page), "--url", "https://demo.example/articles/x.html",
                                      "--json"])
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["title"] == "Putin Orders Twitter to Open Russian Office"
    assert record["authors"] == ["Jane Doe"] and record["published_at"].startswith("2021-07-01")
    assert record["date_source"] == "json-ld"
    assert record["url"] == "https://demo.example/articles/putin-twitter-office.html"
    assert "What's Hot" not in record["text"] and "Roskomnadzor" in record["text"]


def test_extract_refuses_a_binary_file_in_one_line(tmp_path: Path) -> None:
    page = tmp_path / "x.html"
    page.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    result = CliRunner().invoke(cli, ["extract", str(page), "--url", "https://demo.example/x"])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "binary" in result.stderr


@pytest.mark.slow
def test_analyze_prints_entities_and_events_as_json(tmp_path: Path) -> None:
    text = tmp_path / "article.txt"
    text.write_text("President Vladimir Putin signed a law on Thursday. Roskomnadzor, Russia's "
                    "communications regulator, said Russia slowed down Twitter in May.")
    config = tmp_path / "newsmon.yaml"
    config.write_text("watchlist: [{name: Roskomnadzor, aliases: [RKN]}, {name: Twitter}]\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "analyze", str(text), "--published",
                                      "2021-07-01", "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    found = {(m["text"], m["label"], m["canonical"]) for m in data["entities"]}
    assert {("Roskomnadzor", "ORG", "Roskomnadzor"), ("Twitter", "ORG", "Twitter"),
            ("Vladimir Putin", "PERSON", "Vladimir Putin")} <= found
    events = {(e["type"], e["date"]) for e in data["events"]}
    assert ("LAW", "2021-07-01") in events and ("BLOCK_OR_THROTTLE", "2021-05-01/2021-05-31") in events
