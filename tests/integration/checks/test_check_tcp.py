"""The tcp check against real asyncio servers on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from escalatord.checks.base import CheckContext, execute
from escalatord.checks.tcp import TcpCheck
from escalatord.core.status import Status

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Listener:
    """An asyncio server on 127.0.0.1:0 that records what clients sent and when they left."""

    def __init__(self, handler: Handler):
        self.handler = handler
        self.received: list[bytes] = []
        self.client_gone = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self.handler(reader, writer)
            # Whatever the handler did, wait for the client to hang up.
            while data := await reader.read(4096):
                self.received.append(data)
        except ConnectionError:
            pass
        finally:
            self.client_gone.set()
            writer.close()

    async def __aenter__(self) -> Listener:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


@pytest.fixture
async def context() -> AsyncIterator[CheckContext]:
    ctx = CheckContext()
    yield ctx
    await ctx.aclose()


def make(context: CheckContext, port: int, **keys: Any) -> TcpCheck:
    keys.setdefault("timeout", "5s")
    config = TcpCheck.Config(name="svc", type="tcp", host="127.0.0.1", port=port, **keys)
    return TcpCheck(config, context)


async def pop3_like(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Greets, then answers one line: "+OK bye" to QUIT, "-ERR" to anything else."""
    writer.write(b"+OK ready\r\n")
    line = await reader.readline()
    writer.write(b"+OK bye\r\n" if line == b"QUIT\r\n" else b"-ERR what?\r\n")
    await writer.drain()


async def test_connect_only_is_ok(context: CheckContext):
    """A listening port is ok, with the connect time measured."""
    async with Listener(pop3_like) as listener:
        result = await execute(make(context, listener.port))
    assert result.status is Status.OK
    assert result.summary.startswith("connected in ")
    assert result.measurements["connect_ms"] >= 0


async def test_banner_exchange_send_and_expect(context: CheckContext):
    """`send` reaches the server (with its CR LF) and a reply containing `expect` is ok."""
    async with Listener(pop3_like) as listener:
        result = await execute(make(context, listener.port, send="QUIT\r\n", expect="+OK bye"))
    assert result.status is Status.OK, result.summary
    assert "'+OK bye' received after" in result.summary
    assert result.measurements["latency_ms"] >= result.measurements["connect_ms"]


async def test_reply_without_expect_is_critical(context: CheckContext):
    """A reply that ends without `expect` is critical and shows what came instead."""

    async def greet_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        writer.write(b"-ERR go away\r\n")
        await writer.drain()
        writer.close()

    async with Listener(greet_and_close) as listener:
        result = await execute(make(context, listener.port, expect="+OK"))
    assert result.status is Status.CRITICAL
    assert "the reply ended without '+OK'" in result.summary
    assert "-ERR go away" in result.summary


async def test_closed_port_is_connection_refused(context: CheckContext):
    """A port nobody listens on is critical "connection refused"."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    result = await execute(make(context, port))
    assert result.status is Status.CRITICAL
    assert result.summary == "connection refused"


async def test_silent_listener_times_out_and_socket_is_closed(context: CheckContext):
    """A listener that accepts and never replies times out, and the check hangs up."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        return None

    async with Listener(silent) as listener:
        result = await execute(make(context, listener.port, expect="220", timeout="300ms"))
        assert result.status is Status.CRITICAL
        assert result.summary == "timed out after 300ms"
        # The server sees the connection end: the check did not leave the socket open.
        await asyncio.wait_for(listener.client_gone.wait(), 5)


async def test_slow_reply_is_a_warning(context: CheckContext):
    """A reply slower than `max_latency` is a warning naming the limit."""

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.3)
        writer.write(b"220 hello\r\n")
        await writer.drain()

    async with Listener(slow) as listener:
        result = await execute(make(context, listener.port, expect="220", max_latency="50ms"))
    assert result.status is Status.WARNING
    assert "slower than max_latency 50ms" in result.summary
