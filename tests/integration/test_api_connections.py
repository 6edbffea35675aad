"""Connections to the HTTP API (api/connections.py), over real sockets to a running App: idle
and slowloris connections are closed after [daemon] header_timeout, the slowest connection
makes room past [daemon] max_connections, and /healthz answers throughout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from escalatord.app import App
from escalatord.config.loader import load_text
from tests.support.app import config_text, eventually, running_app, serving
from tests.support.net import free_port

HOST = "127.0.0.1"
BOUND = 25.0  # seconds: generous beside the 10 s default header_timeout


@contextlib.asynccontextmanager
async def socket_to(app: App) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    port = int(app.base_url.rpartition(":")[2])  # type: ignore[attr-defined]
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        yield reader, writer
    finally:
        writer.close()


async def until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (read() gives b'')."""
    got = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := await reader.read(65536):
            got += chunk
    return got


async def idle(app: App) -> bytes:
    """Connect, send nothing, return what the server sent before closing."""
    async with socket_to(app) as (reader, _):
        return await until_closed(reader)


async def slowloris(app: App, every: float = 2.0) -> bytes:
    """Send a request line, then one header line every `every` seconds, never the end."""
    async with socket_to(app) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: escalatord\r\n")

        async def dribble() -> None:
            for n in range(1000):
                await asyncio.sleep(every)
                writer.write(b"X-Slow-%d: 1\r\n" % n)

        dribbling = asyncio.create_task(dribble())
        try:
            return await until_closed(reader)
        finally:
            dribbling.cancel()


async def poll_health(app: App, stop: asyncio.Event) -> list[int]:
    """GET /healthz on a new connection every 200 ms until `stop`; the status codes."""
    codes = []
    while not stop.is_set():
        async with httpx.AsyncClient(base_url=app.base_url, timeout=10) as client:  # type: ignore[attr-defined]
            codes.append((await client.get("/healthz")).status_code)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)
    return codes


async def test_idle_and_slowloris_connections_are_closed_while_healthz_answers(tmp_path: Path):
    """With the default settings, idle sockets and slowloris clients (a header line every 2 s)
    are closed about 10 s after connecting (the slow ones with a 408), /healthz answers 200
    all along, and /metrics counts them."""
    async with running_app(tmp_path / "e.db", "") as app:
        stop = asyncio.Event()
        health = asyncio.create_task(poll_health(app, stop))
        started = asyncio.get_running_loop().time()
        closed = await asyncio.wait_for(
            asyncio.gather(*[idle(app) for _ in range(60)], *[slowloris(app) for _ in range(20)]),
            BOUND,
        )
        took = asyncio.get_running_loop().time() - started
        stop.set()
        codes = await health
        async with httpx.AsyncClient(base_url=app.base_url) as client:  # type: ignore[attr-defined]
            metrics = (await client.get("/metrics")).text
    assert closed[:60] == [b""] * 60
    assert all(reply.startswith(b"HTTP/1.1 408 ") for reply in closed[60:])
    assert b"request headers not complete within 10s" in closed[60]
    assert took > 5  # closed by the deadline, not at once
    assert codes and set(codes) == {200}
    assert 'escalatord_http_connections_closed_total{reason="header_timeout"} 80' in metrics


async def test_a_kept_alive_connection_must_send_its_next_request_in_time(tmp_path: Path):
    """After a complete request, the next one on the same connection also has header_timeout
    to arrive: dribbling it is answered 408 and closed."""
    async with app_with(tmp_path / "e.db", 'header_timeout = "1s"') as app:
        async with socket_to(app) as (reader, writer):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: escalatord\r\n\r\n")
            first = await reader.readuntil(b"}")  # the JSON body of the first answer
            assert first.startswith(b"HTTP/1.1 200 ")
            writer.write(b"GET /healthz HTTP/1.1\r\n")
            rest = await asyncio.wait_for(until_closed(reader), BOUND)
    assert rest.startswith(b"HTTP/1.1 408 ")


@contextlib.asynccontextmanager
async def app_with(database: Path, daemon: str, body: str = "") -> AsyncIterator[App]:
    """An App whose [daemon] section also has the lines `daemon`."""
    port = free_port()
    text = config_text(database, port, body).replace("[daemon]\n", f"[daemon]\n{daemon}\n", 1)
    async with serving(load_text(text, env={}), port) as app:
        yield app


def limited(database: Path, n: int) -> contextlib.AbstractAsyncContextManager[App]:
    """An App taking at most `n` connections, and PagerDuty events (to be busy in)."""
    api = '[api]\nrouting_keys = ["R0UT1NGK3Y0123456789abcdef012345"]\n'
    return app_with(database, f'max_connections = {n}\nheader_timeout = "5m"', api)


async def test_a_newcomer_pushes_out_the_longest_idle_connection(tmp_path: Path):
    """With max_connections idle sockets open, /healthz still answers: the socket that has
    waited longest is closed to make room, the others stay open."""
    async with limited(tmp_path / "e.db", 3) as app:
        async with contextlib.AsyncExitStack() as stack:
            sockets = [await stack.enter_async_context(socket_to(app)) for _ in range(3)]
            await eventually(lambda: app.connections.open == 3, what="3 connections")
            async with httpx.AsyncClient(base_url=app.base_url, timeout=10) as client:  # type: ignore[attr-defined]
                assert (await client.get("/healthz")).status_code == 200
            oldest = sockets[0][0]
            assert await asyncio.wait_for(until_closed(oldest), BOUND) == b""
            assert not any(reader.at_eof() for reader, _ in sockets[1:])
            assert app.connections.closed["pushed_out"] == 1


async def test_past_the_cap_with_every_connection_busy_a_newcomer_gets_503(tmp_path: Path):
    """When every connection is busy with a request (bodies still coming), a new one is
    answered 503 and closed; once one finishes, new connections are served again."""
    async with limited(tmp_path / "e.db", 2) as app:
        async with contextlib.AsyncExitStack() as stack:
            busy = [await stack.enter_async_context(socket_to(app)) for _ in range(2)]
            for _, writer in busy:
                writer.write(
                    b"POST /api/v1/events/pagerduty HTTP/1.1\r\nHost: escalatord\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
                )
            await eventually(
                lambda: app.connections.open == 2 and not app.connections.waiting,
                what="2 requests in progress",
            )
            async with socket_to(app) as (reader, _):
                refused = await asyncio.wait_for(until_closed(reader), BOUND)
            assert refused.startswith(b"HTTP/1.1 503 ")
            assert b"too many connections" in refused
            busy[0][1].close()
            await eventually(lambda: app.connections.open < 2, what="a slot to free")
            async with httpx.AsyncClient(base_url=app.base_url, timeout=10) as client:  # type: ignore[attr-defined]
                assert (await client.get("/healthz")).status_code == 200
