"""Delivery through apprise to real servers on 127.0.0.1, and retry pacing."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from typing import Any

import pytest
import requests

from newsmon.alerts.deliver import DeliveryError, next_attempt_delay, send
from newsmon.alerts.render import build_match_context, render_notification
from newsmon.config import DeliverySettings, expand_env
from newsmon.records import Article, MatchReason
from tests.servers import http_receiver, smtp_server

S3 = "Russia slowed down Twitter in May."
ARTICLE = Article(url="https://news.example/putin-twitter", source="example-news",
                  title="Putin Orders Twitter to Open Russian Office", text=S3,
                  fetched_at=datetime(2021, 7, 2, tzinfo=timezone.utc),
                  published_at=datetime(2021, 7, 1, 9, 30, tzinfo=timezone.utc), date_source="json-ld")
CONTEXT = build_match_context("russian-regulator", ARTICLE, [MatchReason("entity", "Twitter", S3)], sources_count=2)
TITLE = "[newsmon] russian-regulator: Putin Orders Twitter to Open Russian Office"
SLACK_URL = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"


def deliver(url: str, timeout: float = 5.0) -> None:
    title, body, body_format = render_notification(url, CONTEXT)
    send(url, title, body, body_format, timeout)


def test_email_arrives_with_html_body_and_sentence() -> None:
    with smtp_server() as smtp:
        deliver(f"mailto://127.0.0.1:{smtp.port}?to=legal@example.com&from=newsmon@example.com")
    [message] = smtp.messages
    assert (message["Subject"], message["To"]) == (TITLE, "legal@example.com")
    assert "newsmon@example.com" in message["From"]
    html = message.get_body(("html",)).get_content()
    assert "Russia slowed down <strong>Twitter</strong> in May." in html
    assert '<a href="https://news.example/putin-twitter">' in html
    assert "Russia slowed down Twitter in May." in message.get_body(("plain",)).get_content()


def test_json_message_arrives_with_title_and_body() -> None:
    with http_receiver() as http:
        deliver(f"json://127.0.0.1:{http.port}/newsmon/hook")
    [request] = http.requests
    assert (request["method"], request["path"]) == ("POST", "/newsmon/hook")
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["json"]["title"] == TITLE
    assert "- entity *Twitter*: Russia slowed down **Twitter** in May." in request["json"]["message"]


def test_mattermost_gets_the_markdown_message() -> None:
    with http_receiver() as http:
        deliver(f"mmost://127.0.0.1:{http.port}/8u7pfb5y7idg3mqaekxaen3sjc")
    [request] = http.requests
    assert request["path"] == "/hooks/8u7pfb5y7idg3mqaekxaen3sjc"
    text = request["json"]["text"]
    assert text.startswith(TITLE)
    assert "Russia slowed down **Twitter** in May." in text
    assert "[Read the article](https://news.example/putin-twitter)" in text


def _slack_title_and_text(payload: dict[str, Any]) -> tuple[str, str]:
    attachment = payload["attachments"][0]
    if "blocks" not in attachment:  # the legacy attachment layout (apprise's default for webhooks)
        assert payload["mrkdwn"] is True
        return attachment["title"], attachment["text"]
    header, section = attachment["blocks"][:2]
    assert section["text"]["type"] == "mrkdwn"
    return header["text"]["text"], section["text"]["text"]


@pytest.mark.parametrize("query", ["", "?blocks=yes"])
def test_slack_payload_at_the_http_boundary(monkeypatch: pytest.MonkeyPatch, query: str) -> None:
    """apprise's slack:// only posts to hooks.slack.com, so catch the request it would make."""
    sent: list[dict[str, Any]] = []

    def fake_request(method: str, url: str, **kwargs: Any) -> requests.Response:
        sent.append({"method": method.upper(), "url": url, "payload": json.loads(kwargs["data"])})
        response = requests.Response()
        response.status_code, response._content = 200, b"ok"
        return response

    monkeypatch.setattr(requests, "request", fake_request)
    deliver(SLACK_URL + query)
    [call] = sent
    assert (call["method"], call["url"]) == (
        "POST", "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ")
    title, text = _slack_title_and_text(call["payload"])
    assert title == TITLE
    assert "- entity _Twitter_: Russia slowed down *Twitter* in May." in text  # Markdown -> mrkdwn
    assert text.endswith("<https://news.example/putin-twitter|Read the article>")


def test_receiver_answering_500_raises_one_line() -> None:
    with http_receiver() as http:
        http.status = 500
        with pytest.raises(DeliveryError) as error:
            deliver(f"json://127.0.0.1:{http.port}/hook")
    assert str(error.value) == (f"delivery to json://127.0.0.1:{http.port} failed: "
                                "Failed to send JSON POST notification: Internal server error., error=500.")


def test_down_receiver_raises_then_recovers() -> None:
    with http_receiver() as http:
        http.stop()
        with pytest.raises(DeliveryError, match="Connection error") as error:
            deliver(f"json://127.0.0.1:{http.port}/hook", timeout=2)
        assert "\n" not in str(error.value)
        http.start()
        deliver(f"json://127.0.0.1:{http.port}/hook")
        assert len(http.requests) == 1


def test_smtp_down_raises() -> None:
    with smtp_server() as smtp:
        port = smtp.port
    with pytest.raises(DeliveryError, match=f"delivery to mailto://127.0.0.1:{port} failed: "):
        deliver(f"mailto://127.0.0.1:{port}?to=a@example.com&from=newsmon@example.com", timeout=2)


@pytest.mark.parametrize("url", ["nope://example.com/x", "json://", "slack://short", "not a url at all", ""])
def test_invalid_url_raises(url: str) -> None:
    with pytest.raises(DeliveryError, match="invalid channel URL"):
        send(url, "t", "b", "markdown", 1)


def test_secrets_are_masked_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSMON_TEST_HOOK_TOKEN", "s3cr3t-token-value")
    url = expand_env("nope://user:hunter22@example.com/${NEWSMON_TEST_HOOK_TOKEN}", "test")
    with pytest.raises(DeliveryError) as error:
        send(url, "t", "b", "markdown", 1)
    assert str(error.value) == "invalid channel URL: nope://user:****@example.com/****"
    with http_receiver() as http:
        http.status = 403
        with pytest.raises(DeliveryError) as error:
            send(f"json://user:hunter22@127.0.0.1:{http.port}/s3cr3t-token-value", "t", "b", "text", 2)
    assert "hunter22" not in str(error.value) and "s3cr3t" not in str(error.value)


@pytest.mark.parametrize(
    ("attempts", "ceiling"),
    [(0, 30), (1, 30), (2, 60), (3, 120), (10, 15360), (11, 6 * 3600), (10_000, 6 * 3600)],
)
def test_backoff_is_full_jitter_under_a_capped_doubling(attempts: int, ceiling: float) -> None:
    settings = DeliverySettings(backoff="30s", backoff_max="6h")
    delays = [next_attempt_delay(attempts, settings, random.Random(seed)) for seed in range(200)]
    assert all(0 <= delay <= ceiling for delay in delays)
    assert max(delays) > ceiling * 0.9 and min(delays) < ceiling * 0.1  # spread over the whole range


class FixedRandom(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_ceiling_sequence() -> None:
    settings = DeliverySettings(backoff="1m", backoff_max="5m")
    assert [next_attempt_delay(n, settings, FixedRandom()) for n in range(1, 6)] == [60, 120, 240, 300, 300]
