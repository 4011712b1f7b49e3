"""Page -> Article: main text and metadata (trafilatura + our own pass), canonical URL, content hash."""

from __future__ import annotations

from newsmon.extract.article import ExtractionError, extract_article, extract_file
from newsmon.extract.fields import clean_authors
from newsmon.extract.urls import canonical_url, content_hash

__all__ = ["ExtractionError", "canonical_url", "clean_authors", "content_hash", "extract_article",
           "extract_file"]
