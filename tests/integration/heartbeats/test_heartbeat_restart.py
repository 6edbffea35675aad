"""Heartbeat state across restarts: the store, not the process, knows when the last ping was."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from escalatord.core.status import Status
from tests.support.app import eventually, free_port, page_everything, running_app
from tests.support.http_target import HttpTarget

TOKEN = "restart-token-0123456789"


@pytest.fixture
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


def body(sink: HttpTarget) -> str:
    # every + grace = 4 s: long enough to restart inside, short enough to wait for.
    checks = "".join(
        f"""
        [[check]]
        name = "{name}"
        type = "heartbeat"
        every = "2s"
        grace = "2s"
        token = "{TOKEN}"
        """
        for name in ("feed", "silent")
    )
    return (
        checks
        + f"""
        {page_everything(sink.url("/hook"))}
    """
    )


def pages(sink: HttpTarget, check: str) -> list[tuple[str, float]]:
    return [
        (r.json()["event"], r.at) for r in sink.requests if r.json()["incident"]["check"] == check
    ]


async def test_restarts_keep_healthy_heartbeats_healthy_and_late_ones_late(
    tmp_path: Path, sink: HttpTarget
):
    """After a restart a recent ping still counts and a never-pinged check's clock keeps
    running; a check that went late stays late (and paged once) across another restart."""
    database = tmp_path / "escalatord.db"
    port = free_port()
    first_start = time.time()
    async with running_app(database, body(sink), port):
        await asyncio.sleep(2.5)  # "silent" is first seen now; nobody ever pings it
        async with httpx.AsyncClient() as client:
            reply = await client.post(
                f"http://127.0.0.1:{port}/heartbeat/feed",
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            assert reply.status_code == 200
        pinged = time.time()

    async with running_app(database, body(sink), port) as app:
        # "silent" counts from its first sighting in the first process (page ~4 s after it),
        # not from this start (that would be 6.5 s or more).
        await eventually(lambda: pages(sink, "silent"), within=10, what="the silent check's page")
        assert pages(sink, "silent")[0][1] - first_start < 5.8
        # "feed" pinged before the restart: not late until its 4 s have passed.
        await eventually(lambda: pages(sink, "feed"), within=10, what="the feed's late page")
        (event, at) = pages(sink, "feed")[0]
        assert event == "triggered" and at - pinged >= 3.9
        assert app.monitor.states["feed"].status is Status.CRITICAL

    async with running_app(database, body(sink), port) as app:
        await asyncio.sleep(1.0)  # several evaluations: still late, nothing new is sent
        assert app.monitor.states["feed"].status is Status.CRITICAL
        assert app.monitor.states["silent"].status is Status.CRITICAL
    assert [e for e, _ in pages(sink, "feed")] == ["triggered"]
    assert [e for e, _ in pages(sink, "silent")] == ["triggered"]
