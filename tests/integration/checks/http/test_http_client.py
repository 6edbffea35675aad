"""The http check's own HTTP/1.1 client against a small asyncio HTTP server on loopback."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from escalatord.checks.base import CheckContext, execute
from escalatord.checks.http.check import HttpCheck
from escalatord.core.status import Status

Answer = Callable[[str, int], bytes | None]  # (request line, n-th request on its connection)


class Server:
    """Answers each request with `answer(request_line, n)`; None hangs up without a reply."""

    def __init__(self, answer: Answer):
        self.answer = answer
        self.connections = 0
        self.requests: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        n = 0
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                line = head.split(b"\r\n", 1)[0].decode()
                self.requests.append(line)
                n += 1
                reply = self.answer(line, n)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def response(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Answer], Any]]:
    servers: list[asyncio.Server] = []

    async def start(answer: Answer) -> tuple[Server, str]:
        state = Server(answer)
        server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return state, f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.close()


@pytest.fixture
async def context() -> AsyncIterator[CheckContext]:
    ctx = CheckContext()
    yield ctx
    await ctx.aclose()


def make(context: CheckContext, url: str, **keys: Any) -> HttpCheck:
    keys.setdefault("timeout", "2s")
    return HttpCheck(HttpCheck.Config(name="web", type="http", url=url, **keys), context)


async def test_runs_reuse_one_kept_alive_connection(serve, context):
    """Three runs of a check are three requests over one TCP connection."""
    server, base = await serve(lambda line, n: response(b"ok"))
    check = make(context, base + "/health")
    for _ in range(3):
        result = await execute(check)
        assert result.status is Status.OK, result.summary
    assert server.requests == ["GET /health HTTP/1.1"] * 3
    assert server.connections == 1


async def test_a_connection_the_server_dropped_is_replaced_within_the_same_run(serve, context):
    """When the server hangs up on a kept-alive connection instead of answering, the run
    retries once on a new connection and is ok."""
    server, base = await serve(lambda line, n: response(b"ok") if n == 1 else None)
    check = make(context, base + "/")
    first, second = await execute(check), await execute(check)
    assert first.status is Status.OK and second.status is Status.OK, second.summary
    assert server.connections == 2
    assert len(server.requests) == 3  # the second run's request was sent twice


async def test_a_server_that_hangs_up_without_a_reply_is_critical(serve, context):
    """A new connection closed without any reply is critical with a clear summary."""
    _server, base = await serve(lambda line, n: None)
    result = await execute(make(context, base + "/"))
    assert result.status is Status.CRITICAL
    assert "disconnected without sending a response" in result.summary


async def test_a_gzip_body_is_searched_decoded(serve, context):
    """A gzip-encoded body is decoded before body_contains is judged."""
    body = gzip.compress(b'{"status": "healthy"}')
    _server, base = await serve(lambda line, n: response(body, "Content-Encoding: gzip"))
    result = await execute(make(context, base + "/", body_contains='"healthy"'))
    assert result.status is Status.OK, result.summary
    result = await execute(make(context, base + "/", body_contains="sick"))
    assert result.status is Status.CRITICAL


async def test_head_does_not_wait_for_a_body(serve, context):
    """A HEAD reply announces a length but sends no body: the run ends at the headers."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
    _server, base = await serve(lambda line, n: head)
    result = await execute(make(context, base + "/", method="HEAD"))
    assert result.status is Status.OK, result.summary
    assert result.duration < 1.0
