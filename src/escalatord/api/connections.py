"""Connections to the HTTP API: a deadline for request headers and a cap on open connections.

uvicorn closes a kept-alive connection that stays idle for `timeout_keep_alive`, but never one
that has not finished sending its request headers: idle sockets and slowloris clients (a header
line every few seconds) would stay open for ever, each holding a file descriptor. Here:

- A connection must complete its request line and headers within `[daemon] header_timeout`
  (10 s) of connecting, and each later request on a kept-alive connection within as long of
  its first byte; past that it is closed (with a 408 if it had begun a request).
- At most `[daemon] max_connections` are open. A new connection beyond that pushes out the
  connection that has waited longest without a request in progress (idle, or still sending
  its headers): a real client sends its request as soon as it connects, so the slowest loses
  its place and /healthz and real senders still get in while idle sockets pile up. With none
  to push out (every connection is busy with a request), the newcomer is answered 503 and
  closed.

A connection closed before it sent a byte of a request is closed without an answer, as an idle
kept-alive connection is: an unasked-for status could be read as the answer to a request the
client sends at that moment.

`ConnectionGuard.protocol()` is the protocol class handed to uvicorn (`uvicorn.Config(http=…)`):
uvicorn's httptools protocol with these hooks. `metrics()` feeds /metrics.
"""

from __future__ import annotations

import asyncio
import http
import json
import resource
from collections.abc import Iterator

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = structlog.get_logger("escalatord.api")
# File descriptors to keep for everything but API connections: checks' sockets, the store,
# notifiers, probe workers' pipes.
FD_HEADROOM = 1024
Sample = tuple[str, float]


class ConnectionGuard:
    """The limits of one server's connections, and what they did (see the module docstring)."""

    def __init__(self, header_timeout: float, max_connections: int):
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.open = 0
        # Connections without a request in progress, longest waiting first (an ordered set):
        # what a newcomer past max_connections may push out.
        self.waiting: dict[GuardedProtocol, None] = {}
        self.closed = {"header_timeout": 0, "pushed_out": 0, "refused": 0}

    def protocol(self) -> type[GuardedProtocol]:
        """The protocol class for uvicorn, bound to this guard."""
        return type("GuardedProtocol", (GuardedProtocol,), {"guard": self})

    def admit(self, newcomer: GuardedProtocol) -> bool:
        """Whether `newcomer` may stay open, pushing out the longest-waiting slow connection if
        the cap is reached."""
        if self.open <= self.max_connections:
            return True
        oldest = next(iter(self.waiting), None)
        if oldest is None or oldest is newcomer:
            return False
        oldest.close_with(503, "pushed_out", "closed to make room for a new connection")
        return True

    def metrics(self) -> Iterator[tuple[str, str, str, list[Sample]]]:
        yield (
            "escalatord_http_connections",
            "gauge",
            "Open connections to the HTTP API.",
            [("", self.open)],
        )
        yield (
            "escalatord_http_connections_closed_total",
            "counter",
            "Connections the HTTP API closed itself, by reason: header_timeout (request "
            "headers not complete in [daemon] header_timeout), pushed_out (a slow one closed "
            "for a newcomer past [daemon] max_connections), refused (a newcomer past it).",
            [(f'{{reason="{reason}"}}', count) for reason, count in self.closed.items()],
        )


def warn_if_few_files(max_connections: int) -> None:
    """Log a warning when the open-files limit cannot hold max_connections beside the checks:
    past it, a flood of connections would make checks fail for want of a socket."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < max_connections + FD_HEADROOM:
        log.warning(
            "open_files_limit_low",
            limit=soft,
            max_connections=max_connections,
            hint=f"raise the limit to at least {max_connections + FD_HEADROOM} (LimitNOFILE= in "
            "the systemd unit, which sets 65536; ulimit -n in a shell) or lower [daemon] "
            "max_connections",
        )


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request-header deadline and the connection cap."""

    guard: ConnectionGuard  # set on the class ConnectionGuard.protocol() makes

    _header_timer: asyncio.TimerHandle | None = None
    _in_headers = False  # a request has begun and its headers are not complete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        guard = self.guard
        guard.open += 1
        guard.waiting[self] = None
        self._arm()
        if not guard.admit(self):  # a status here is not mistaken: no request can be out yet
            self.close_with(503, "refused", "too many connections; try again", answer=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.guard.open -= 1
        self.guard.waiting.pop(self, None)
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        if self._header_timer is None:  # a later request on a kept-alive connection
            self._arm()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._disarm()
        self.guard.waiting.pop(self, None)
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.cycle.response_complete:
            # Idle again (kept alive): last in the queue of what may be pushed out.
            self.guard.waiting.pop(self, None)
            self.guard.waiting[self] = None

    def close_with(self, status: int, reason: str, message: str, *, answer: bool = False) -> None:
        """Close, answering `status` with a JSON error when the client has begun a request
        (or `answer`) and no response is under way."""
        self._disarm()
        self.guard.waiting.pop(self, None)
        if self.transport.is_closing():
            return
        self.guard.closed[reason] += 1
        idle = self.cycle is None or self.cycle.response_complete
        if idle and (self._in_headers or answer):
            self.transport.write(_response(status, message))
        self.transport.close()
        log.debug("http_connection_closed", reason=reason, client=self.client)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.guard.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        wait = self.guard.header_timeout
        self.close_with(408, "header_timeout", f"request headers not complete within {wait:g}s")


def _response(status: int, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body
