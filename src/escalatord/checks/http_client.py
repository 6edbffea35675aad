"""A small HTTP/1.1 client for `http` checks: the probe path without a general-purpose library.

Why not httpx here: per request it costs ~1.8 ms of CPU on the benchmark machine, and its pool
(httpcore) walks every pooled connection on every request, asking each socket whether it is
readable (a syscall): with a few hundred keep-alive connections a single request costs
milliseconds (bench/RESULTS.md, issue 6 section). A probe needs far less: one
request per connection at a time, idle connections reused per origin, a body read up to a cap.

- Idle connections are kept per origin (scheme, host, port, TLS context) in a LIFO stack:
  taking one is O(1). A connection the server closed is dropped when the loop sees it close;
  one idle longer than `IDLE_EXPIRY` is closed when met. A request that fails on a reused
  connection before any byte of reply arrives (the server closed it meanwhile) is retried
  once on a new connection, as browsers do.
- Responses are parsed by httptools (llhttp, the parser uvicorn uses; it comes with
  uvicorn[standard]). A body is read up to `cap` bytes; a reply cut there closes its
  connection. gzip and deflate bodies are decoded.
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
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httptools
import httpx

IDLE_EXPIRY = 5.0  # seconds an idle connection may be reused (httpx's keepalive_expiry)
MAX_IDLE_PER_ORIGIN = 64


@functools.lru_cache(maxsize=1 << 16)
def parse_url(url: str) -> httpx.URL:
    """httpx's URL parsing (IDNA, percent-encoding), once per distinct URL: each http check's
    URL is parsed by the config validator, the check and the client (~80 us each; 10,000
    checks start 0.5 s faster). httpx.URL is immutable, so sharing one is safe."""
    return httpx.URL(url)


class ProtocolError(Exception):
    """The server broke HTTP: a malformed reply, or it hung up before replying."""


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


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    truncated: bool = False  # the body was cut at the cap
    peer_certificate: bytes | None = None  # DER, on TLS connections

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    @property
    def encoding(self) -> str | None:
        """The charset of Content-Type, if any."""
        for part in (self.header("content-type") or "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip('"')
        return None


@dataclass
class _Exchange:
    """The reply being read on one connection."""

    future: asyncio.Future[None]
    cap: int
    head: bool
    status_code: int = 0
    status_line: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    headers_done: bool = False
    complete: bool = False
    truncated: bool = False


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.peer_certificate: bytes | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._ex: _Exchange | None = None
        self.got_bytes = False  # of the current exchange's reply

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        ex = self._ex
        if ex is None:  # bytes while idle: the server broke the protocol; do not reuse
            self.close()
            return
        self.got_bytes = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ProtocolError("the server switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(ProtocolError(f"malformed reply ({exc})"))

    def eof_received(self) -> bool | None:
        ex = self._ex
        if ex is not None and ex.headers_done and not ex.complete:
            # A body delimited by the end of the connection ends here; a reply that promised
            # a length or chunks and stopped short is treated the same: judge what came.
            self._done(ex)
        self.closed = True
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        ex = self._ex
        if ex is not None and not ex.future.done():
            if ex.headers_done:
                self._done(ex)
            else:
                err = exc or ProtocolError("Server disconnected without sending a response.")
                ex.future.set_exception(err)

    # httptools callbacks
    def on_status(self, status: bytes) -> None:
        assert self._ex is not None
        self._ex.status_line += status

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._ex is not None
        self._ex.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        ex = self._ex
        assert ex is not None
        code = self._parser.get_status_code()
        if 100 <= code < 200:  # an interim reply: the real one follows
            ex.status_line, ex.headers = b"", []
            return
        ex.status_code = code
        ex.headers_done = True
        if ex.head:  # no body follows, whatever Content-Length says; llhttp cannot be told
            self._done(ex, reusable=False)

    def on_body(self, body: bytes) -> None:
        ex = self._ex
        if ex is None or ex.complete:
            return
        ex.chunks.append(body)
        ex.size += len(body)
        if ex.size >= ex.cap:
            ex.truncated = True
            self._done(ex, reusable=False)

    def on_message_complete(self) -> None:
        ex = self._ex
        if ex is not None and not ex.complete and ex.headers_done:
            self._done(ex, reusable=self._parser.should_keep_alive())

    # ours
    def _done(self, ex: _Exchange, reusable: bool = False) -> None:
        ex.complete = True
        if not reusable:
            self.close()
        if not ex.future.done():
            ex.future.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        ex = self._ex
        self.close()
        if ex is not None and not ex.future.done():
            ex.future.set_exception(exc)

    def close(self) -> None:
        # abort, not close: a TLS close waits for the peer's close_notify (up to 30 s) with the
        # socket open, and nothing is left to send on a connection we drop.
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    async def exchange(self, request: bytes, cap: int, head: bool) -> _Exchange:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        ex = self._ex = _Exchange(loop.create_future(), cap, head)
        self.got_bytes = False
        try:
            self.transport.write(request)
            await ex.future
        finally:
            self._ex = None
        return ex

    def reset_for_reuse(self) -> None:
        """A fresh parser: llhttp keeps state between messages, but a new one is cheap."""
        self._parser = httptools.HttpResponseParser(self)


class Client:
    """Requests with per-origin idle connections. One per process (through CheckContext)."""

    def __init__(self) -> None:
        self._idle: dict[tuple[Any, ...], deque[_Connection]] = {}

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
        response = _response(ex, conn.peer_certificate)
        if conn.closed:
            return response
        conn.reset_for_reuse()
        self._put(key, conn)
        return response

    def _take(self, key: tuple[Any, ...]) -> _Connection | None:
        stack = self._idle.get(key)
        now = time.monotonic()
        while stack:
            conn = stack.pop()
            if not conn.closed and now - conn.idle_since < IDLE_EXPIRY:
                return conn
            conn.close()
        return None

    def _put(self, key: tuple[Any, ...], conn: _Connection) -> None:
        now = time.monotonic()
        conn.idle_since = now
        stack = self._idle.setdefault(key, deque())
        # The oldest are at the bottom: drop the expired or closed ones there as we pass.
        while stack and (stack[0].closed or now - stack[0].idle_since >= IDLE_EXPIRY):
            stack.popleft().close()
        if len(stack) >= MAX_IDLE_PER_ORIGIN:
            stack.popleft().close()
        stack.append(conn)

    async def _connect(self, target: Target, tls: ssl.SSLContext | None) -> _Connection:
        loop = asyncio.get_running_loop()
        _transport, conn = await loop.create_connection(
            _Connection,
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


def _response(ex: _Exchange, der: bytes | None) -> Response:
    body = b"".join(ex.chunks)
    encoding = next((v for k, v in ex.headers if k.lower() == "content-encoding"), "")
    if encoding.strip().lower() in ("gzip", "deflate") and body:
        body = _decode(body, encoding.strip().lower(), ex.cap)
    return Response(
        ex.status_code,
        ex.status_line.decode("latin-1"),
        ex.headers,
        body[: ex.cap],
        ex.truncated,
        der,
    )


def _decode(body: bytes, encoding: str, cap: int) -> bytes:
    """gzip / deflate (zlib or raw) body, at most `cap` bytes of it; as sent when it will not."""
    for wbits in (16 + zlib.MAX_WBITS,) if encoding == "gzip" else (zlib.MAX_WBITS, -15):
        try:
            return zlib.decompressobj(wbits).decompress(body, cap)
        except zlib.error:
            continue
    return body


def build_request(
    target: Target, method: str, headers: dict[str, str], body: bytes | None, user_agent: str
) -> bytes:
    """The request's bytes (computed once per check: nothing in it changes per run)."""
    own = {k.lower() for k in headers}
    lines = [f"{method} ".encode("ascii") + target.request_target + b" HTTP/1.1"]
    defaults = [
        (b"host", b"Host: " + target.host_header),
        (b"accept", b"Accept: */*"),
        (b"accept-encoding", b"Accept-Encoding: gzip, deflate"),
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
