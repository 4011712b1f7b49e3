"""Shared helpers for the benches: corpus loading (read at run time, never copied), scores, bulk inserts."""

from __future__ import annotations

import json
import resource
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
CASIE_TYPES = {"Databreach": "DATA_BREACH", "Ransom": "RANSOMWARE", "Phishing": "PHISHING",
               "DiscoverVulnerability": "VULNERABILITY", "PatchVulnerability": "PATCH"}


@dataclass(slots=True)
class CasieArticle:
    id: str
    text: str  # the annotated body ("content"); offsets refer to it
    types: set[str]  # newsmon event types with at least one gold event
    victims: dict[str, list[str]] = field(default_factory=dict)  # type -> Victim organisation texts


def corpus_or_exit(name: str) -> Path:
    path = CORPORA / name
    if not path.is_dir():
        print(f"skipped: corpus {path} is absent (see ../shared/corpora/README.md)")
        sys.exit(0)
    return path


def load_casie(root: Path) -> list[CasieArticle]:
    articles = []
    for path in sorted((root / "data" / "annotation").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        article = CasieArticle(path.stem, data["content"], set())
        for hopper in data["cyberevent"].get("hopper", []):
            for event in hopper["events"]:
                type_ = CASIE_TYPES[event["subtype"]]
                article.types.add(type_)
                article.victims.setdefault(type_, []).extend(
                    a["text"] for a in event.get("argument", [])
                    if a["role"]["type"] == "Victim" and a["type"] == "Organization")
        articles.append(article)
    return articles


def load_gum_texts(root: Path, genre: str = "news") -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted((root / "text").glob(f"GUM_{genre}_*.txt"))}


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def peak_rss_mb() -> float:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def bulk_insert(engine: Any, rows: dict[Any, list[dict[str, Any]]]) -> None:
    """Insert row dicts per ORM model in one transaction, in the order given (parents first).

    SQLAlchemy Core executemany: 100,000 articles in ~45 CPU s, against ~30 min one by one through
    the Repository. Tables the Repository keeps on the side (entity_days, bands) are not filled.
    """
    from sqlalchemy import insert

    with engine.begin() as conn:
        for model, items in rows.items():
            if items:
                conn.execute(insert(model.__table__), items)
