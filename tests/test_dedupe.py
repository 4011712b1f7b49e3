from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import newsmon
from newsmon.extract import extract_file
from newsmon.dedupe import (NEAR_DUPLICATE_THRESHOLD, NUM_PERM, band_keys, candidate_probability, shingles,
                                    similarity, text_signature)

ARTICLES = Path(next(iter(newsmon.__path__))) / "demo" / "site" / "articles"


def _story(name: str) -> str:
    article = extract_file(ARTICLES / f"{name}.html", url=f"http://127.0.0.1:8000/articles/{name}.html")
    return f"{article.title}\n\n{article.text}"


def _rewrite(story: str) -> str:
    """A desk's rewrite: another headline, one paragraph added, one sentence reworded."""
    _, _, body = story.partition("\n\n")
    body = body.replace("Russia slowed down Twitter in May over its failure to delete banned content.",
                        "In May the regulator throttled Twitter, saying it had not removed banned posts.")
    added = ("Analysts in Moscow said the law was the latest step in a long campaign to bring "
             "foreign technology companies under closer control of the state.")
    return f"Kremlin tells Twitter to set up Russian office\n\n{body}\n\n{added}"


@pytest.fixture(scope="module")
def original() -> str:
    story = _story("putin-twitter-office")
    assert "Russia slowed down Twitter in May over its failure to delete banned content." in story
    return story


def test_rewritten_copy_is_a_candidate_and_a_near_duplicate(original: str) -> None:
    sig_a, sig_b = text_signature(original), text_signature(_rewrite(original))
    assert set(band_keys(sig_a)) & set(band_keys(sig_b))
    assert similarity(sig_a, sig_b) > NEAR_DUPLICATE_THRESHOLD


@pytest.mark.parametrize("other", ["acme-data-breach", "eu-fines-google", "city-marathon", "telegram-update"])
def test_unrelated_article_is_neither(original: str, other: str) -> None:
    sig_a, sig_b = text_signature(original), text_signature(_story(other))
    assert not set(band_keys(sig_a)) & set(band_keys(sig_b))
    assert similarity(sig_a, sig_b) < NEAR_DUPLICATE_THRESHOLD


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300))
def test_signature_is_deterministic_and_keys_are_short_hex(text: str) -> None:
    signature = text_signature(text)
    assert signature == text_signature(text) and len(signature) == 128
    keys = band_keys(signature)
    assert len(keys) == 32 and len(set(keys)) == 32
    assert all(len(key) == 14 and int(key, 16) >= 0 for key in keys)
    assert similarity(signature, signature) == 1.0


def test_signature_is_stable_across_processes(original: str) -> None:
    """Another interpreter (another PYTHONHASHSEED) computes the same signature: storable."""
    code = ("import sys; from newsmon.dedupe import text_signature; "
            "print(text_signature(sys.stdin.read()))")
    out = subprocess.run([sys.executable, "-c", code], input=original, capture_output=True, text=True,
                         check=True, env={"PYTHONHASHSEED": "12345"}).stdout
    assert out.strip() == str(text_signature(original))


def test_normalisation_ignores_case_width_and_punctuation() -> None:
    assert text_signature("Putin ORDERS Twitter, to open an office!") == \
        text_signature("putin orders twitter to open an office")
    assert shingles("one two") == {"one two"} and shingles("") == set()


def test_band_maths() -> None:
    assert candidate_probability(NEAR_DUPLICATE_THRESHOLD) > 0.85
    assert candidate_probability(0.1) < 0.01
    with pytest.raises(ValueError):
        band_keys(text_signature("x", num_perm=100))


def test_commands_that_open_the_database_do_not_import_scipy() -> None:
    """datasketch imports scipy (0.3 s, 40 MB): only computing a signature may load it, not every
    `newsmon search` through storage's use of band_keys and similarity."""
    code = ("import sys, newsmon.cli, newsmon.storage.repository, newsmon.storage.search; "
            "print(sorted(m for m in ('datasketch', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert len(text_signature("one two three four five six")) == NUM_PERM  # and signatures still work
