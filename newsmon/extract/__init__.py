"""Page -> Article: main text and metadata (trafilatura), canonical URL, content hash."""

from __future__ import annotations

from newsmon.extract.article import ExtractionError, clean_authors, extract_article, extract_file
from newsmon.extract.urls import canonical_url, content_hash

__all__ = ["ExtractionError", "canonical_url", "clean_authors", "content_hash", "extract_article",
           "extract_file"]
