"""Digests and spike alerts delivered as email through a real SMTP server on 127.0.0.1, on both
databases: one message per digest interval, with each story explained."""

from __future__ import annotations

from datetime import timedelta

import pytest

from newsmon.alerts.stage import alert, deliver
from newsmon.storage.repository import Repository
from tests.servers import smtp_server
from tests.test_alerting import NOW, fine, make_config, store


def email_channel(port: int, digest: str = "none") -> dict[str, str]:
    return {"url": f"mailto://127.0.0.1:{port}?to=analyst@example.com&from=newsmon@example.com", "digest": digest}


@pytest.mark.parametrize(("digest", "start", "span", "wait"), [
    ("hourly", "2021-07-02 12:00 UTC", "1h", timedelta(minutes=30)),
    ("daily", "2021-07-02 00:00 UTC", "1d", timedelta(hours=12)),
])
def test_digest_arrives_by_email_once_the_interval_is_over(repo: Repository, digest: str, start: str,
                                                           span: str, wait: timedelta) -> None:
    with smtp_server() as smtp:
        config = make_config(channels={"email": email_channel(smtp.port, digest)},
                             rules=[{"name": "rkn", "entities": {"any": ["Roskomnadzor"]}, "notify": ["email"]},
                                    {"name": "fines", "events": ["FINE"], "query": "fined", "notify": ["email"]}])
        for n in range(2):
            store(repo, n, [fine()])
        assert alert(repo, config, now=NOW) == 4
        assert deliver(repo, config, now=NOW).sent == 0 and smtp.messages == []  # the interval is not over
        report = deliver(repo, config, now=NOW + wait)
        assert (report.digests, report.sent) == (1, 1)
        assert deliver(repo, config, now=NOW + timedelta(days=2)).sent == 0  # never twice
    [message] = smtp.messages
    assert message["Subject"] == f"[newsmon] {digest} digest, {start} + {span}: 4 stories"
    assert message["To"] == "analyst@example.com"
    html = message.get_body(("html",)).get_content()
    assert html.index("<h3>Rule rkn</h3>") < html.index("<h3>Rule fines</h3>")
    for n in range(2):
        assert html.count(f'<a href="https://news.example/a/{n}">Story about Roskomnadzor {n}</a>') == 2
    assert html.count("· demo · 2021-07-02 12:30 UTC (date from json-ld) · 1 source ·") == 4
    assert "entity Roskomnadzor<br><strong>Roskomnadzor</strong> fined Twitter over content" in html
    assert "event FINE<br>Roskomnadzor <strong>fined</strong> Twitter over content" in html  # the query's word
    assert "Story about Roskomnadzor 1" in message.get_body(("plain",)).get_content()


def test_spike_alert_arrives_by_email(repo: Repository) -> None:
    with smtp_server() as smtp:
        config = make_config(channels={"email": email_channel(smtp.port)},
                             rules=[{"name": "surge", "notify": ["email"],
                                     "spike": {"entities": "watchlist", "window": "24h", "baseline": "14d",
                                               "factor": 3, "min_count": 5}}])
        for n in range(6):  # Twitter: 6 articles in the last hours, 1 in the two weeks before
            store(repo, n, entities=("Twitter",), published=NOW - timedelta(hours=n + 1))
        store(repo, 100, entities=("Twitter",), published=NOW - timedelta(days=5))
        assert alert(repo, config, now=NOW) == 1
        assert deliver(repo, config, now=NOW).sent == 1
        assert alert(repo, config, now=NOW + timedelta(hours=1)) == 0  # the same surge
    [message] = smtp.messages
    assert message["Subject"] == "[newsmon] surge: Twitter surging (6 articles in 24h)"
    html = message.get_body(("html",)).get_content()
    assert ("<strong>Twitter</strong>: 6 articles in the last 24h, 84.0x its usual rate "
            "(0.1 expected from the previous 14d)") in html
    assert "Rule <strong>surge</strong>. Latest:" in html
    assert '<a href="https://news.example/a/0">Story about Roskomnadzor 0</a> · demo · 2021-07-02 11:30 UTC' in html
    assert html.count("<li>") == 5  # the five latest articles
