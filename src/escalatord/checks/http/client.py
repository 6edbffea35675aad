"""A small HTTP/1.1 client for `http` checks: the probe path without a general-purpose library.

Why not httpx here: per request it costs several times the CPU this client does, and its pool
(httpcore) walks every pooled connection on every request, asking each socket whether it is
readable (a syscall): with a few hundred keep-alive connections a single request costs
milliseconds (bench/RESULTS.md, 'Issue 6: the scenario suite, and the
first round of speed work'). A probe needs far less: one
request per connection at a time, idle connections reused per origin, a body read up to a cap.

- Idle connections are kept per origin (scheme, host, port, TLS context) in a LIFO stack:
  taking one is O(1). A connection the server closed is dropped when the loop sees it close;
  one idle longer than `IDLE_EXPIRY` is closed when met. A request that fails on a reused
  connection before any byte of reply arrives (the server closed it meanwhile) is retried
  once on a new connection, as browsers do.
- Responses are parsed by httptools (llhttp, the parser uvicorn uses; it comes with
  uvicorn[standard]) in connection.py. A body is read up to `cap` bytes; a reply cut
  there closes its connection. gzip and deflate bodies are decoded. Odd replies get the
  verdicts httpx gives them (body.py); a body cut short or not decodable comes back as
  `Response.fault`.
- Errors are the socket's own (ConnectionRefusedError, ssl.SSLCertVerificationError,
  socket.gaierror, ...) or `ProtocolError` when the server breaks HTTP; `describe_error` in
  http.py turns either into a summary.
- No cookies, no proxies, no redirects (http.py uses httpx for `follow_redirects = true`).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ssl
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx

from escalatord.checks.http import body as http_body
from escalatord.checks.http import connection as http_connection
from escalatord.checks.http.connection import Connection, ProtocolError, Response

__all__ = ["Client", "ProtocolError", "Response", "Target", "build_request", "parse_url"]

IDLE_EXPIRY = 5.0  # seconds an idle connection may be reused (httpx's keepalive_expiry)
MAX_IDLE_PER_ORIGIN = 64


@functools.lru_cache(maxsize=1 << 16)
def parse_url(url: str) -> httpx.URL:
    """httpx's URL parsing (IDNA, percent-encoding), once per distinct URL: each http check's
    URL is parsed by the config validator, the check and the client, and parsing it once
    makes large configs start sooner (bench/RESULTS.md, 'Issue 6: start-up under 2 s'). httpx.URL is
    immutable, so sharing one is safe."""
    return httpx.URL(url)


@dataclass(frozen=True)
class Target:
    """A parsed URL, ready to send to: computed once per check."""

    scheme: str
    host: str  # for connecting and TLS SNI (IPv6 without brackets)
    port: int
    request_target: bytes  # path and query, as sent
    host_header: bytes
    authorization: bytes | None  # from user:password in the URL

    @classmethod
    def parse(cls, url: str) -> Target:
        u = parse_url(url)  # the same parsing (IDNA, percent-encoding) as the config validator
        default = 443 if u.scheme == "https" else 80
        port = u.port or default
        raw_host = u.raw_host.decode("ascii")
        host_header = f"[{raw_host}]" if ":" in raw_host else raw_host
        if port != default:
            host_header += f":{port}"
        auth = None
        if u.userinfo:
            user, _, password = u.userinfo.decode("ascii").partition(":")
            token = f"{unquote(user)}:{unquote(password)}".encode()
            auth = b"Basic " + base64.b64encode(token)
        return cls(u.scheme, raw_host, port, u.raw_path, host_header.encode("ascii"), auth)


class Client:
    """Requests with per-origin idle connections. One per process (through CheckContext)."""

    def __init__(self) -> None:
        self._idle: dict[tuple[Any, ...], deque[Connection]] = {}

    async def request(
        self,
        target: Target,
        request: bytes,
        *,
        head: bool = False,
        cap: int,
        tls: ssl.SSLContext | None,
    ) -> Response:
        """Send `request` (from `build_request`) and read the reply, its body up to `cap` bytes."""
        key = (target.scheme, target.host, target.port, id(tls))
        conn = self._take(key)
        reused = conn is not None
        while True:
            if conn is None:
                conn = await self._connect(target, tls)
            try:
                ex = await conn.exchange(request, cap, head)
            except (ProtocolError, ConnectionError):
                conn.close()
                if reused and not conn.got_bytes:
                    conn, reused = None, False  # the server closed it while idle: once more
                    continue
                raise
            except BaseException:
                conn.close()  # cancelled (timeout) or failed mid-reply: never reuse it
                raise
            break
        response = http_connection.response(ex, conn.peer_certificate)
        if conn.closed:
            return response
        conn.reset_for_reuse()
        self._put(key, conn)
        return response

    def _take(self, key: tuple[Any, ...]) -> Connection | None:
        stack = self._idle.get(key)
        now = time.monotonic()
        while stack:
            conn = stack.pop()
            if not conn.closed and now - conn.idle_since < IDLE_EXPIRY:
                return conn
            conn.close()
        return None

    def _put(self, key: tuple[Any, ...], conn: Connection) -> None:
        now = time.monotonic()
        conn.idle_since = now
        stack = self._idle.setdefault(key, deque())
        # The oldest are at the bottom: drop the expired or closed ones there as we pass.
        while stack and (stack[0].closed or now - stack[0].idle_since >= IDLE_EXPIRY):
            stack.popleft().close()
        if len(stack) >= MAX_IDLE_PER_ORIGIN:
            stack.popleft().close()
        stack.append(conn)

    async def _connect(self, target: Target, tls: ssl.SSLContext | None) -> Connection:
        loop = asyncio.get_running_loop()
        _transport, conn = await loop.create_connection(
            Connection,
            target.host,
            target.port,
            ssl=tls,
            server_hostname=target.host if tls is not None else None,
        )
        if tls is not None:
            ssl_object = _transport.get_extra_info("ssl_object")
            if ssl_object is not None:
                conn.peer_certificate = ssl_object.getpeercert(binary_form=True)
        return conn

    async def aclose(self) -> None:
        idle, self._idle = self._idle, {}
        for stack in idle.values():
            for conn in stack:
                conn.close()
        # A transport closes its socket on a later loop iteration: let it, so that the
        # sockets are gone when this returns (and not when the loop is torn down).
        for _ in range(2):
            await asyncio.sleep(0)


def build_request(
    target: Target, method: str, headers: dict[str, str], body: bytes | None, user_agent: str
) -> bytes:
    """The request's bytes (computed once per check: nothing in it changes per run)."""
    own = {k.lower() for k in headers}
    lines = [f"{method} ".encode("ascii") + target.request_target + b" HTTP/1.1"]
    defaults = [
        (b"host", b"Host: " + target.host_header),
        (b"accept", b"Accept: */*"),
        (b"accept-encoding", b"Accept-Encoding: " + http_body.ACCEPT_ENCODING.encode()),
        (b"user-agent", b"User-Agent: " + user_agent.encode("latin-1")),
    ]
    if target.authorization is not None:
        defaults.append((b"authorization", b"Authorization: " + target.authorization))
    lines += [line for key, line in defaults if key.decode() not in own]
    for key, value in headers.items():
        lines.append(f"{key}: {value}".encode("latin-1"))
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: %d" % len(body or b""))
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")
