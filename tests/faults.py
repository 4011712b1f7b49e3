"""A misbehaving HTTP server for crawl tests, on 127.0.0.1 only (like Scrapy's own mock server).

Each path maps to a `Fault`: a function given the connected socket and the request line that
answers well, slowly, partly, wrongly or not at all. `http.server` cannot lie about
Content-Length, break chunked encoding or hang up mid-answer, so this writes raw bytes:

    with serve_faults({"/hang": hang(), "/a.html": ok(html), "/x": sequence(status(503), ok(html))}) as s:
        s.routes["/feed.xml"] = ok(rss_linking_to(s.base_url), "application/rss+xml")
        crawl(...)                       # links like f"{s.base_url}/hang"
        s.count("/x")                    # requests answered per path; s.times("/x") when they came

Also here: `FakeDNSResolver`, newsmon's connect-time resolver with a fixed table instead of the
system resolver, for `scrapy crawl feeds -s TWISTED_DNS_RESOLVER=tests.faults.FakeDNSResolver`.
"""

from __future__ import annotations

import gzip
import itertools
import socket
import socketserver
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar

import brotli
from twisted.internet import defer

from newsmon.crawlers.middlewares import GuardedResolver

Fault = Callable[["Exchange"], None]
STOP_AFTER = 60.0  # a hanging or dripping answer never outlives this (or the server)


@dataclass(slots=True)
class Exchange:
    """One request as the fault sees it, and the socket to answer on."""

    conn: socket.socket
    path: str
    headers: dict[str, str]
    stop: threading.Event  # set when the server shuts down: hanging faults end

    def send(self, data: bytes) -> None:
        self.conn.sendall(data)


@dataclass
class FaultServer:
    base_url: str
    port: int
    routes: dict[str, Fault] = field(default_factory=dict)  # may be added to while serving
    log: list[tuple[str, float]] = field(default_factory=list)  # (path, monotonic time) per request

    def count(self, path: str) -> int:
        return len(self.times(path))

    def times(self, path: str) -> list[float]:
        return [t for p, t in list(self.log) if p == path]


def head(status: int, headers: dict[str, str] | None = None, length: int | None = None) -> bytes:
    """A status line and headers; `Connection: close` always (one exchange per connection)."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}
HTML = "text/html; charset=utf-8"


# -- well-behaved answers ------------------------------------------------------------------------
def ok(body: bytes | str, content_type: str | None = HTML, headers: dict[str, str] | None = None) -> Fault:
    return status(200, body, content_type, headers)


def status(code: int, body: bytes | str = b"", content_type: str | None = "text/plain",
           headers: dict[str, str] | None = None) -> Fault:
    data = body.encode("utf-8") if isinstance(body, str) else body
    extra = {**({"Content-Type": content_type} if content_type else {}), **(headers or {})}

    def answer(ex: Exchange) -> None:
        ex.send(head(code, extra, len(data)) + data)
    return answer


def redirect(location: str, code: int = 302) -> Fault:
    return status(code, b"", None, {"Location": location})


def sequence(*faults: Fault) -> Fault:
    """The n-th request gets the n-th fault; the last one repeats."""
    calls = itertools.count()
    lock = threading.Lock()

    def answer(ex: Exchange) -> None:
        with lock:
            n = next(calls)
        faults[min(n, len(faults) - 1)](ex)
    return answer


# -- broken answers ------------------------------------------------------------------------------
def hang() -> Fault:
    """Read the request, never answer."""
    def answer(ex: Exchange) -> None:
        ex.stop.wait(STOP_AFTER)
    return answer


def drip(body: bytes, every: float = 0.5) -> Fault:
    """Headers at once, then one byte per `every` seconds (a slow-loris server)."""
    def answer(ex: Exchange) -> None:
        ex.send(head(200, {"Content-Type": HTML}, len(body)))
        for byte in body:
            if ex.stop.wait(every):
                return
            ex.send(bytes([byte]))
    return answer


def truncated(body: bytes, claimed: int) -> Fault:
    """Content-Length says `claimed` bytes; fewer come, then the connection closes."""
    def answer(ex: Exchange) -> None:
        ex.send(head(200, {"Content-Type": HTML}, claimed) + body)
    return answer


def dropped() -> Fault:
    """Read the request and reset the connection without a byte of answer."""
    def answer(ex: Exchange) -> None:
        ex.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    return answer


def broken_chunked(body: bytes) -> Fault:
    """Transfer-Encoding: chunked with a valid first chunk, then a chunk size that is no number."""
    def answer(ex: Exchange) -> None:
        first = body[:200]
        ex.send(head(200, {"Content-Type": HTML, "Transfer-Encoding": "chunked"})
                + f"{len(first):x}\r\n".encode() + first + b"\r\nzz-not-hex\r\n" + body[200:400])
    return answer


def encoded(body: bytes, encoding: str, content_type: str = HTML) -> Fault:
    return status(200, body, content_type, {"Content-Encoding": encoding})


@lru_cache(maxsize=4)
def gzip_bomb(size: int) -> bytes:
    """`size` zero bytes, gzip-compressed (about size/1000 bytes)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    parts = [compressor.compress(chunk) for _ in range(size >> 20)]
    return b"".join(parts) + compressor.flush()


@lru_cache(maxsize=4)
def brotli_bomb(size: int) -> bytes:
    """`size` zero bytes, brotli-compressed (a few hundred bytes per GiB)."""
    compressor = brotli.Compressor(quality=5)
    chunk = bytes(1 << 20)
    return b"".join(compressor.process(chunk) for _ in range(size >> 20)) + compressor.finish()


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data)


# -- the server ----------------------------------------------------------------------------------
@contextmanager
def serve_faults(routes: dict[str, Fault] | None = None) -> Iterator[FaultServer]:
    """Serve `routes` on 127.0.0.1 (more may be added to `.routes` once `base_url` is known).

    Unknown paths get a 404. Every request is logged before it is answered.
    """
    stop = threading.Event()
    server = _Server(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    state = FaultServer(f"http://127.0.0.1:{port}", port, dict(routes or {}))
    server.state, server.stop = state, stop
    thread = threading.Thread(target=server.serve_forever, name=f"faults-{port}", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        server.shutdown()
        server.server_close()



class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    state: FaultServer
    stop: threading.Event


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(STOP_AFTER)
        accepted = time.monotonic()  # as close to the client's connect as this side can tell
        try:
            request = _read_head(conn)
            if request is None:
                return
            path, headers = request
            self.server.state.log.append((path, accepted))
            fault = self.server.state.routes.get(path.split("?", 1)[0], status(404, b"not found"))
            fault(Exchange(conn, path, headers, self.server.stop))
        except OSError:
            pass  # the client gave up (timeout, size cap): that is what most faults are for


def _read_head(conn: socket.socket) -> tuple[str, dict[str, str]] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk or len(data) > 65536:
            return None
        data += chunk
    lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    return (parts[1] if len(parts) > 1 else "/"), {k.strip().lower(): v.strip() for k, v in headers.items()}


# -- DNS for SSRF tests ----------------------------------------------------------------------------
class FakeDNSResolver(GuardedResolver):
    """newsmon's connect-time resolver answering from `TABLE` instead of the system resolver.

    `STAND_IN_PUBLIC` names stand for public sites: they answer 127.0.0.1 only because the
    test server lives there, so they are trusted as if a source had approved them.
    """

    TABLE: ClassVar[dict[str, str]] = {"news.example": "127.0.0.1", "rebind.example": "127.0.0.1",
             "metadata.example": "169.254.169.254", "intranet.example": "10.1.2.3"}
    STAND_IN_PUBLIC: ClassVar[tuple[str, ...]] = ("news.example",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.STAND_IN_PUBLIC:
            self.allow_host(name)

    def lookup(self, name: str, timeout: Any = ()) -> defer.Deferred[str]:
        if name in self.TABLE:
            return defer.succeed(self.TABLE[name])
        return super().lookup(name, timeout)
