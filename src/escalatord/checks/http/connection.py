"""One connection of the http check's lean client (http_client.py): an asyncio protocol that
writes a request and parses its reply with httptools (llhttp), one exchange at a time.

llhttp is told to read bare-LF line endings; a head it still refuses gets one more try as h11
reads it (`http_body.relax_head`); `Transfer-Encoding` other than chunked, a head over
`http_body.MAX_HEAD` and a reply starting with an empty line are refused, as h11 refuses them.
A body cut short, or not decodable, comes back as `Response.fault`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httptools

from escalatord.checks.http import body as http_body


class ProtocolError(Exception):
    """The server broke HTTP: a malformed reply, or it hung up before replying."""


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    truncated: bool = False  # the body was cut at the cap
    peer_certificate: bytes | None = None  # DER, on TLS connections
    fault: str | None = None  # the body was cut short or could not be decoded: why

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
class Exchange:
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
    fault: str | None = None  # see Response.fault
    transfer_encoding: bool = False  # the head has one: check its framing
    raw_head: bytes = b""  # the pieces of a head that came in several, or was refused
    refused: Exception | None = None  # llhttp refused the head: relax it once it is whole
    relaxed: bool = False  # the head was given its second try


def _parser(protocol: Any) -> httptools.HttpResponseParser:
    parser = httptools.HttpResponseParser(protocol)
    # Embedded devices end lines with a bare LF, some pad chunk sizes with spaces; h11 (the
    # httpx path) reads both. (The leniencies are "dangerous" for proxies, not for a probe.)
    parser.set_dangerous_leniencies(
        lenient_optional_cr_before_lf=True, lenient_spaces_after_chunk_size=True
    )
    return parser


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.peer_certificate: bytes | None = None
        self._parser = _parser(self)
        self._ex: Exchange | None = None
        self.got_bytes = False  # of the current exchange's reply

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        ex = self._ex
        if ex is None:  # bytes while idle: the server broke the protocol; do not reuse
            self.close()
            return
        if not self.got_bytes:
            self.got_bytes = True
            if data[:1] in (b"\r", b"\n"):  # llhttp skips it, h11 refuses: one verdict
                self._fail(ProtocolError("the reply starts with an empty line"))
                return
        if ex.headers_done or ex.refused is None:
            self._feed(ex, data)
            if ex.headers_done or ex.refused is not None or ex.future.done():
                return
            # The head goes on in a later piece: keep this one for a second try (see _feed).
            # Only then: keeping every piece read would cost CPU on every request.
            ex.raw_head += data
        else:  # refused: wait for the whole head, then try it relaxed
            ex.raw_head += data
            if http_body.head_complete(ex.raw_head):
                self._relax(ex)
        if not ex.headers_done and len(ex.raw_head) > http_body.MAX_HEAD:
            self._fail(ProtocolError(http_body.HEAD_TOO_LONG))  # else it grows unbounded

    def _feed(self, ex: Exchange, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ProtocolError("the server switched protocols"))
        except httptools.HttpParserError as exc:
            if ex.future.done():
                return  # the exchange is over (refused in a callback): what follows is moot
            if ex.headers_done or ex.relaxed:
                self._fail(ProtocolError(f"malformed reply ({exc})"))
                return
            ex.refused = exc  # relaxed once the whole head is here
            ex.raw_head += data
            if http_body.head_complete(ex.raw_head):
                self._relax(ex)

    def _relax(self, ex: Exchange) -> None:
        """Parse the head again as h11 would read it (obs-fold, a repeated Content-Length)."""
        relaxed = http_body.relax_head(ex.raw_head)
        if relaxed is None:
            self._fail(ProtocolError(f"malformed reply ({ex.refused})"))
            return
        ex.relaxed, ex.refused = True, None
        ex.status_line, ex.headers, ex.transfer_encoding = b"", [], False
        self._parser = _parser(self)
        self._feed(ex, relaxed)

    def eof_received(self) -> bool | None:
        ex = self._ex
        if ex is not None and ex.headers_done and not ex.complete:
            # A body delimited by the end of the connection ends here; one that promised a
            # length or chunks and stopped short is a fault (judged critical).
            ex.fault = http_body.cut_short(ex.headers, ex.size)
            self._done(ex)
        self.closed = True
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        ex = self._ex
        if ex is not None and not ex.future.done():
            if ex.headers_done:
                if not ex.complete:
                    ex.fault = http_body.cut_short(ex.headers, ex.size)
                self._done(ex)
            else:
                err = exc or ProtocolError(
                    f"malformed reply ({ex.refused})"
                    if ex.refused is not None
                    else "Server disconnected without sending a response."
                )
                ex.future.set_exception(err)

    # httptools callbacks
    def on_status(self, status: bytes) -> None:
        assert self._ex is not None
        self._ex.status_line += status

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._ex is not None
        self._ex.headers.append((name.decode("latin-1"), value.decode("latin-1")))
        if len(name) == 17 and name.lower() == b"transfer-encoding":  # rare: a length test first
            self._ex.transfer_encoding = True

    def on_headers_complete(self) -> None:
        ex = self._ex
        assert ex is not None
        code = self._parser.get_status_code()
        if code == 101:  # llhttp pauses on it as an upgrade whatever the headers say
            ex.complete = True
            self._fail(ProtocolError("the server switched protocols"))
            return
        if 100 <= code < 200:  # an interim reply: the real one follows
            ex.status_line, ex.headers, ex.transfer_encoding = b"", [], False
            return
        ex.status_code = code
        ex.headers_done = True
        if ex.transfer_encoding and (fault := http_body.framing_fault(ex.headers)):
            ex.complete = True  # llhttp goes on parsing this piece: ignore the rest
            self._fail(ProtocolError(fault))
            return
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
    def _done(self, ex: Exchange, reusable: bool = False) -> None:
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

    async def exchange(self, request: bytes, cap: int, head: bool) -> Exchange:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        ex = self._ex = Exchange(loop.create_future(), cap, head)
        self.got_bytes = False
        try:
            self.transport.write(request)
            await ex.future
        finally:
            self._ex = None
        return ex

    def reset_for_reuse(self) -> None:
        """A fresh parser: llhttp keeps state between messages, but a new one is cheap."""
        self._parser = _parser(self)


def response(ex: Exchange, der: bytes | None) -> Response:
    """The reply read by `ex`, its body decoded (see http_body.decode)."""
    body = b"".join(ex.chunks)
    encoding = next((v for k, v in ex.headers if k.lower() == "content-encoding"), None)
    body, fault = http_body.decode(body, encoding, ex.cap, whole=not ex.truncated)
    return Response(
        ex.status_code,
        ex.status_line.decode("latin-1"),
        ex.headers,
        body,
        ex.truncated,
        der,
        ex.fault or fault,
    )
