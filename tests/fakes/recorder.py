"""A small HTTP server on 127.0.0.1 that records requests and answers from a script.

Each test queues the responses it wants (`fail_next(...)`), otherwise the
stand-in answers with its default success response.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)

    def form(self) -> dict:
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)


Responder = Callable[[RecordedRequest], tuple[int, dict | str]]


class RecordingServer:
    def __init__(self, default: Responder):
        self.default = default
        self.requests: list[RecordedRequest] = []
        self.scripted: deque[tuple[int, dict | str, dict]] = deque()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self._handle()

            def do_GET(self):
                self._handle()

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                recorded = RecordedRequest(
                    method=self.command, path=parts.path, query=parse_qs(parts.query),
                    headers=dict(self.headers.items()), body=self.rfile.read(length),
                )
                with server.lock:
                    server.requests.append(recorded)
                    status, body, headers = (server.scripted.popleft() if server.scripted
                                             else (*server.default(recorded), {}))
                payload = body if isinstance(body, str) else json.dumps(body)
                encoded = payload.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/html")
                self.send_header("Content-Length", str(len(encoded)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> "RecordingServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def respond_next(self, status: int, body: dict | str, headers: dict | None = None) -> None:
        """Answer the next request with this instead of the default."""
        with self.lock:
            self.scripted.append((status, body, headers or {}))

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.scripted.clear()
