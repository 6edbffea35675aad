"""A webhook receiver on loopback that refuses every request and echoes it in its error body,
as many real ones do: the request line, the headers, the full URL and the query it parsed
(percent-decoded, `+` as a space). Whatever a notifier sends, a careless error text repeats.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class EchoSink:
    """`with EchoSink(503, 400) as sink:` answers 503 first, then 400 to every later request.

    `requests` holds each request's line; `url(path)` is an address on it."""

    def __init__(self, *statuses: int):
        self.statuses = list(statuses or (400,))
        self.requests: list[str] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                host = self.headers.get("Host", "")
                echo = {
                    "error": "refused",
                    "request": self.requestline,
                    "url": f"http://{host}{self.path}",
                    "query": parse_qs(urlsplit(self.path).query),
                    "headers": dict(self.headers.items()),
                }
                body = (self.requestline + "\n" + json.dumps(echo)).encode()
                self.send_response(sink._next(self.requestline))
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _next(self, line: str) -> int:
        with self._lock:
            self.requests.append(line)
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> EchoSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
