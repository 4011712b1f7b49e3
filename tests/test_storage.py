"""Storage on real SQLite and real PostgreSQL: migrations, idempotent writes, the outbox."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from newsmon.errors import DatabaseError
from newsmon.records import (Analysis, Article, ArticleStatus, Event, EventType, Match, MatchReason,
                             Mention, Notification, NotificationStatus)
from newsmon.storage import migrate
from newsmon.storage.engine import create_db_engine
from newsmon.storage.repository import Repository, open_repository

T0 = datetime(2021, 7, 1, 12, 0, tzinfo=timezone.utc)


def make_article(n: int = 1, text: str | None = None, **kw: object) -> Article:
    body = text or f"Article {n}: Roskomnadzor fined Twitter on Thursday. " * 5
    fields = dict(url=f"https://news.example/a/{n}", source="demo", title=f"Title {n}", text=body,
                  fetched_at=T0, published_at=T0 - timedelta(hours=n), date_source="json-ld",
                  content_hash=f"hash-{n}" if text is None else hashlib.sha256(text.encode()).hexdigest(),
                  urls=[f"https://news.example/a/{n}?utm_source=rss"])
    fields.update(kw)
    return Article(**fields)  # type: ignore[arg-type]


def test_migration_reaches_head_and_is_repeatable(db_url: str) -> None:
    engine = create_db_engine(db_url)
    migrate.upgrade(engine)
    migrate.upgrade(engine)  # second upgrade is a no-op
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_unmigrated_database_is_refused_with_one_line(sqlite_url: str) -> None:
    with pytest.raises(DatabaseError, match="newsmon db upgrade"):
        open_repository(sqlite_url)


def test_unreachable_postgres_is_one_line_error() -> None:
    with pytest.raises(DatabaseError) as info:
        open_repository("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert "cannot connect to database" in str(info.value)
    assert "\n" not in str(info.value)


def test_save_article_twice_stores_once_and_keeps_aliases(repo: Repository) -> None:
    first = repo.save_article(make_article(1))
    again = repo.save_article(make_article(1, urls=["https://mirror.example/1"], content_hash="other"))
    assert first.created and not again.created
    assert again.article_id == first.article_id
    assert repo.count_articles() == 1
    assert repo.known_urls(["https://news.example/a/1?utm_source=rss", "https://mirror.example/1",
                            "https://news.example/a/2"]) == {"https://news.example/a/1?utm_source=rss",
                                                              "https://mirror.example/1"}


def test_same_text_under_another_url_is_an_alias(repo: Repository) -> None:
    first = repo.save_article(make_article(1, text="Same words here."))
    dup = repo.save_article(make_article(2, text="Same words here."))
    assert (dup.created, dup.article_id) == (False, first.article_id)
    assert repo.known_urls(["https://news.example/a/2"]) == {"https://news.example/a/2"}


def test_article_round_trip_keeps_fields_and_utc(repo: Repository) -> None:
    saved = repo.save_article(make_article(3, authors=["Jane Doe", "John Roe"], language="en"))
    stored = repo.get_article(saved.article_id)
    assert stored is not None
    expected = make_article(3, authors=["Jane Doe", "John Roe"], language="en")
    expected.id, expected.story_id, expected.urls = saved.article_id, saved.story_id, []
    assert stored == expected
    assert stored.published_at is not None and stored.published_at.tzinfo is not None


def test_source_state_counts_failures_and_keeps_validators(repo: Repository) -> None:
    repo.record_source_result("demo", ok=True, etag='"v1"', last_modified="Thu, 01 Jul 2021 10:00:00 GMT")
    repo.record_source_result("demo", ok=False, error="HTTP 500")
    state = repo.record_source_result("demo", ok=False, error="timeout")
    assert (state.failures, state.last_error, state.etag) == (2, "timeout", '"v1"')
    assert repo.get_source_state("demo").failures == 2
    assert repo.record_source_result("demo", ok=True).failures == 0


def _analysis() -> Analysis:
    sentence = "Roskomnadzor fined Twitter on Thursday."
    mentions = [Mention("Roskomnadzor", "ORG", 11, 23, sentence, "Roskomnadzor", True),
                Mention("RKN", "ORG", 30, 33, sentence, "Roskomnadzor", True),
                Mention("Twitter", "ORG", 30, 37, sentence, "Twitter", False)]
    events = [Event(EventType.FINE, "fined", sentence, 11, 50, actor="Roskomnadzor", target="Twitter",
                    amount=3e6, currency="RUB")]
    return Analysis(mentions, events)


def test_save_analysis_is_idempotent_and_links_one_entity(repo: Repository) -> None:
    saved = repo.save_article(make_article(1))
    repo.save_analysis(saved.article_id, _analysis(), {"Roskomnadzor": "ORG"})
    repo.save_analysis(saved.article_id, _analysis(), {"Roskomnadzor": "ORG"})
    loaded = repo.load_analysis(saved.article_id)
    assert [(m.text, m.canonical, m.watched) for m in loaded.mentions] == [
        ("Roskomnadzor", "Roskomnadzor", True), ("RKN", "Roskomnadzor", True), ("Twitter", "Twitter", False)]
    assert loaded.events == _analysis().events
    assert repo.count_articles(ArticleStatus.ANALYSED) == 1


def _match(article_id: int, story_id: int) -> tuple[Match, list[Notification]]:
    reasons = [MatchReason("entity", "Roskomnadzor", "Roskomnadzor fined Twitter.")]
    notes = [Notification(channel=c, title="t", body="b", key=f"r1:{story_id}:{c}:1") for c in ("mail", "hook")]
    return Match("r1", article_id, story_id, reasons), notes


def test_outbox_writes_match_and_notifications_once(repo: Repository) -> None:
    saved = repo.save_article(make_article(1))
    assert repo.save_matches(saved.article_id, [_match(saved.article_id, saved.story_id)]) == 2
    assert repo.save_matches(saved.article_id, [_match(saved.article_id, saved.story_id)]) == 0
    assert repo.count_notifications(NotificationStatus.PENDING) == 2


def test_notification_retry_lifecycle(repo: Repository) -> None:
    saved = repo.save_article(make_article(1))
    repo.save_matches(saved.article_id, [_match(saved.article_id, saved.story_id)])
    due = repo.due_notifications()
    assert len(due) == 2
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    repo.mark_attempt_failed(due[0].id, "connection refused", later)
    repo.mark_attempt_failed(due[1].id, "HTTP 500", None)
    assert repo.due_notifications() == []
    assert [n.id for n in repo.due_notifications(now=later)] == [due[0].id]
    assert [n.last_error for n in repo.list_notifications(NotificationStatus.FAILED)] == ["HTTP 500"]
    assert repo.requeue_notification(due[1].id)
    repo.mark_sent(due[1].id)
    sent = repo.get_notification(due[1].id)
    assert sent is not None and (sent.status, sent.attempts) == (NotificationStatus.SENT, 2)
    assert not repo.requeue_notification(due[1].id)  # a sent notification is never re-sent


def test_near_duplicate_joins_the_story_and_unrelated_does_not(repo: Repository) -> None:
    from newsmon.dedupe import text_signature

    base = " ".join(f"Sentence {i} says Roskomnadzor fined Twitter {i} times over content." for i in range(60))
    rewrite = base.replace("Sentence 3 says", "A rewritten line says") + " One more paragraph was added."
    other = " ".join(f"Runner {i} finished the city marathon in {i} minutes on Sunday." for i in range(60))
    first = repo.save_article(make_article(1, text=base, signature=text_signature(base)))
    copy = repo.save_article(make_article(2, text=rewrite, signature=text_signature(rewrite), source="mirror"))
    unrelated = repo.save_article(make_article(3, text=other, signature=text_signature(other)))
    assert copy.created and copy.article_id != first.article_id
    assert copy.story_id == first.story_id
    assert unrelated.story_id != first.story_id
    assert repo.story_source_count(first.story_id) == 2  # demo + mirror


def test_models_and_migrations_agree(db_url: str) -> None:
    """Autogenerate finds nothing to do after upgrade: the schema lives in the models, once."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from newsmon.storage.models import Base

    engine = create_db_engine(db_url)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    diff = [d for d in diff if not _fulltext_only(d)]
    assert diff == []


def _fulltext_only(d: object) -> bool:
    """Full-text objects the migrations own outside the models (FTS5 tables, the tsvector)."""
    if isinstance(d, list):
        return all(_fulltext_only(x) for x in d)
    kind, obj = d[0], d[1] if len(d) > 1 else None  # type: ignore[index]
    if kind == "remove_table":
        return obj.name.startswith("articles_fts")
    if kind == "remove_index":
        return obj.name == "ix_articles_tsv"
    if kind == "remove_column":
        return d[3].name == "tsv"  # type: ignore[index]
    return False
