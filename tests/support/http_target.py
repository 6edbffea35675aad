"""A real HTTP server on loopback for tests: a check target and a webhook sink in one.

It runs in its own thread (so it serves async tests, sync tests and daemons in subprocesses
alike), binds port 0, records every request, and answers as `respond` says: a status, a body,
headers, a delay, `hang` (accept and never answer), or `echo`: the request in the body, as
careless receivers put it in their errors (request line, headers, the full URL and the query
parsed). Use it as a context manager.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False
    echo: bool = False  # the body: the request, echoed (see the module docstring)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived

    def json(self) -> Any:
        return json.loads(self.body)


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up mid-request (timeouts under test) are expected, not errors."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class HttpTarget:
    """`with HttpTarget() as t: t.url("/health"); t.respond(500); t.requests`."""

    def __init__(self, host: str = "127.0.0.1"):
        self._lock = threading.Lock()
        self._default = Reply()
        self._routes: dict[str, Reply] = {}
        self._queue: list[Reply] = []  # one-shot replies, used before the default
        self.requests: list[Request] = []
        self._release = threading.Event()
        self._arrived = threading.Condition(self._lock)
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                reply = target._record(
                    Request(self.command, self.path, dict(self.headers.items()), body, time.time())
                )
                if reply.hang:
                    target._release.wait(60)
                    self.close_connection = True
                    return
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.body.encode() if isinstance(reply.body, str) else reply.body
                if reply.echo:
                    data = self._echo()
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _echo(self) -> bytes:
                host = self.headers.get("Host", "")
                echo = {
                    "request": self.requestline,
                    "url": f"http://{host}{self.path}",
                    "query": parse_qs(urlsplit(self.path).query),
                    "headers": dict(self.headers.items()),
                }
                return (self.requestline + "\n" + json.dumps(echo)).encode()

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _serve

        self.server = _QuietServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.host = host
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _record(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            self._arrived.notify_all()
            path = request.path.split("?")[0]
            if self._queue:
                return self._queue.pop(0)
            return self._routes.get(path, self._default)

    def url(self, path: str = "/") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def respond(
        self,
        status: int = 200,
        body: bytes | str = b"ok",
        *,
        path: str | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        hang: bool = False,
        echo: bool = False,
    ) -> None:
        """Set the reply for `path` (or for every path without its own reply)."""
        reply = Reply(status, body, headers or {}, delay, hang, echo)
        with self._lock:
            if path is None:
                self._default = reply
            else:
                self._routes[path] = reply

    def then(self, *replies: Reply) -> None:
        """Queue one-shot replies, served in order before the standing ones."""
        with self._lock:
            self._queue.extend(replies)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        """Block until at least `count` requests arrived; returns them (may be fewer on timeout)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._arrived.wait(left)
            return list(self.requests)

    def __enter__(self) -> HttpTarget:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
