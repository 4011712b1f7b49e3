"""Real servers on 127.0.0.1 for tests: an SMTP server and an HTTP receiver.

    with smtp_server() as smtp:      # smtp.port, smtp.messages (EmailMessage)
    with http_receiver() as http:    # http.port, http.requests (dicts), http.status, http.stop()/start()
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class SMTPServer:
    """Collects every message it receives, parsed, in `messages`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (mail from, rcpt tos)
        self._controller = Controller(self, hostname=HOST, port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook)
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


@contextmanager
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class HTTPReceiver:
    """Records each request; answers `status` with `response_body`; stop()/start() keep the port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.response_body = b"ok"
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                receiver.requests.append({
                    "method": self.command, "path": self.path, "headers": dict(self.headers),
                    "body": body, "json": _json_or_none(body),
                })
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(receiver.response_body)))
                self.end_headers()
                self.wfile.write(receiver.response_body)

            do_GET = do_POST = do_PUT = do_DELETE = _record  # noqa: N815 (http.server hooks)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = _bind(self.port, Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def _bind(port: int, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """Bind, retrying briefly: a just-closed port can linger for a moment."""
    for _ in range(50):
        try:
            return ThreadingHTTPServer((HOST, port), handler)
        except OSError:
            time.sleep(0.05)
    return ThreadingHTTPServer((HOST, port), handler)


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


@contextmanager
def http_receiver() -> Iterator[HTTPReceiver]:
    receiver = HTTPReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
