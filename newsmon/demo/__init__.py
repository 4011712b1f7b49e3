"""The bundled demo: our own pages and RSS feed (site/), a local server, and `newsmon demo`."""

from __future__ import annotations

from pathlib import Path

SITE_DIR = Path(__file__).parent / "site"
