"""A small local web server for the bundled demo site and for tests (127.0.0.1 only by default).

It behaves like a well-mannered news site: `{{BASE_URL}}` in text files becomes the server's own
address, every answer carries ETag and Last-Modified, and conditional requests get real 304s.
It also keeps a request log so tests can count what a crawler fetched.
"""

from __future__ import annotations

import hashlib
import mimetypes
import threading
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

TEXT_SUFFIXES = frozenset({".xml", ".html", ".htm", ".txt", ".json"})
PLACEHOLDER = b"{{BASE_URL}}"
# Content types by suffix; .html is always text/html, even broken/binary.html (a lying server).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".xml": "application/xml; charset=utf-8",
}
FEED_TYPE = "application/rss+xml; charset=utf-8"


@dataclass(slots=True)
class Resource:
    body: bytes
    content_type: str
    etag: str
    mtime: float


@dataclass
class LocalSite:
    """A running server; use as a context manager or call close()."""

    server: ThreadingHTTPServer
    thread: threading.Thread
    base_url: str
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, status)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def count(self, path_prefix: str = "/", method: str = "GET") -> int:
        """How many requests for paths starting with `path_prefix` were answered."""
        return sum(1 for m, p, _ in list(self.requests) if m == method and p.startswith(path_prefix))

    def __enter__(self) -> LocalSite:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def serve_directory(root: Path, host: str = "127.0.0.1", port: int = 0) -> LocalSite:
    """Start serving `root` in a daemon thread; raises OSError if the port is taken."""
    requests: list[tuple[str, str, int]] = []
    handler = type("SiteHandler", (_Handler,), {"root": Path(root).resolve(), "log": requests,
                                                 "lock": threading.Lock()})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    bound_host, bound_port = server.server_address[:2]
    base_url = f"http://{_url_host(str(bound_host))}:{bound_port}"
    handler.base_url = base_url.encode("ascii")  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name=f"newsmon-site-{bound_port}", daemon=True)
    thread.start()
    return LocalSite(server, thread, base_url, requests)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def load_resource(root: Path, url_path: str, base_url: bytes) -> Resource | None:
    """The file behind `url_path` (None if absent or outside `root`), placeholders filled."""
    file = _resolve(root, url_path)
    if file is None:
        return None
    body = file.read_bytes()
    if file.suffix in TEXT_SUFFIXES:
        body = body.replace(PLACEHOLDER, base_url)
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return Resource(body, content_type_for(file), etag, file.stat().st_mtime)


def _resolve(root: Path, url_path: str) -> Path | None:
    relative = unquote(urlsplit(url_path).path).lstrip("/")
    file = (root / relative).resolve()
    if file.is_dir():
        file = file / "index.html"
    if not file.is_relative_to(root) or not file.is_file():
        return None
    return file


def content_type_for(file: Path) -> str:
    if file.suffix == ".xml" and ("feed" in file.stem or "rss" in file.stem):
        return FEED_TYPE
    return CONTENT_TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"


def is_not_modified(headers: dict[str, str], resource: Resource) -> bool:
    """RFC 9110: If-None-Match wins over If-Modified-Since when both are sent."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or resource.etag in tags
    since = headers.get("if-modified-since")
    if since is None:
        return False
    try:
        return parsedate_to_datetime(since).timestamp() >= int(resource.mtime)
    except (TypeError, ValueError):
        return False


class _Handler(BaseHTTPRequestHandler):
    root: Path
    base_url: bytes
    log: list[tuple[str, str, int]]
    lock: threading.Lock
    server_version = "newsmon-demo/1"

    def do_GET(self) -> None:  # noqa: N802 - the http.server naming convention
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        resource = load_resource(self.root, self.path, self.base_url)
        if resource is None:
            self._send(404, b"not found\n", {"Content-Type": "text/plain; charset=utf-8"}, send_body)
            return
        headers = {"ETag": resource.etag, "Last-Modified": formatdate(resource.mtime, usegmt=True)}
        if is_not_modified({k.lower(): v for k, v in self.headers.items()}, resource):
            self._send(304, b"", headers, send_body=False)
            return
        headers["Content-Type"] = resource.content_type
        self._send(200, resource.body, headers, send_body)

    def _send(self, status: int, body: bytes, headers: dict[str, str], send_body: bool) -> None:
        with self.lock:
            self.log.append((self.command, self.path, status))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep stderr quiet
        return
