"""Connections to one HTTP origin are capped, whatever the number of checks (issue 17)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from escalatord.checks.base import CheckContext, execute
from escalatord.checks.http.check import HttpCheck
from escalatord.checks.http.origins import OriginLimit
from escalatord.core.status import Status


class CountingServer:
    """An HTTP/1.1 server on loopback that answers `200 ok` a moment after each request and
    counts the connections open to it at once."""

    def __init__(self) -> None:
        self.open = 0
        self.most = 0
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.most = max(self.most, self.open)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                self.requests += 1
                await asyncio.sleep(0.01)  # replies take a moment, so requests overlap
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[tuple[CountingServer, int]]:
    counting = CountingServer()
    listener = await asyncio.start_server(counting.handle, "127.0.0.1", 0)
    async with listener:
        yield counting, listener.sockets[0].getsockname()[1]


@pytest.mark.parametrize("follow", [False, True], ids=["lean client", "httpx"])
async def test_many_checks_of_one_server_hold_at_most_the_cap_of_connections(server, follow):
    """Forty checks of one server run at once over at most four connections (the cap, set to
    4 here), and every one of them is OK: the others waited for a slot, none failed."""
    counting, port = server
    context = CheckContext()
    context.shared("http.origins", lambda: OriginLimit(4))
    checks = [
        HttpCheck(
            HttpCheck.Config(
                name=f"page-{n}",
                type="http",
                url=f"http://127.0.0.1:{port}/page/{n}",
                follow_redirects=follow,
            ),
            context,
        )
        for n in range(40)
    ]
    try:
        results = await asyncio.gather(*(execute(check) for check in checks))
    finally:
        await context.aclose()
    assert [r.status for r in results] == [Status.OK] * 40, [r.summary for r in results]
    assert counting.requests == 40
    assert counting.most <= 4


async def test_an_origin_nobody_uses_holds_no_slot():
    """Slots of an origin are dropped once no request waits for or holds one."""
    limit = OriginLimit(2)
    async with limit.slot(("http", "a", 80)), limit.slot(("http", "a", 80)):
        assert limit.most == 2
    assert limit._slots == {}
