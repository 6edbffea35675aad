"""The satellite's agent against a running central App on loopback: it fetches its checks,
probes the office's target itself, and its results reach the central check's state; while the
central daemon is out of reach its results wait in the buffer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from escalatord.core.status import Status
from escalatord.satellite.agent import Agent, fetch_checks
from escalatord.satellite.buffer import Buffer
from escalatord.satellite.uplink import Uplink
from tests.support.app import eventually, page_everything, running_app
from tests.support.http_target import HttpTarget
from tests.support.net import free_port

TOKEN = "boston-satellite-token-0123456789"


@pytest.fixture
def office() -> Iterator[HttpTarget]:
    with HttpTarget() as t:
        yield t


@pytest.fixture
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


def body(office: HttpTarget, sink: HttpTarget) -> str:
    return f"""
        [[satellite]]
        name = "boston"
        sites = ["boston"]
        token = "{TOKEN}"
        silent_after = "30s"

        [[check]]
        name = "boston-web"
        type = "http"
        url = "{office.url("/web")}"
        labels = {{ site = "boston" }}
        {page_everything(sink.url("/hook"))}
    """


async def test_the_agent_runs_the_fetched_checks_and_the_central_state_follows(
    tmp_path, office, sink
) -> None:
    """Fetched checks run at the satellite; the central state takes each result's own time."""
    async with running_app(tmp_path / "db.sqlite", body(office, sink)) as app:
        stop = asyncio.Event()
        uplink = Uplink(app.base_url, "boston", TOKEN)
        checks = await fetch_checks(uplink, str(tmp_path / "checks.json"), stop)
        assert checks is not None and [c.name for c in checks] == ["boston-web"]
        assert (tmp_path / "checks.json").stat().st_mode & 0o077 == 0, "it holds secrets"
        agent = Agent(checks, Buffer(str(tmp_path / "buffer.sqlite")), uplink, push_every=0.1)
        task = asyncio.create_task(agent.run(stop))
        try:
            states = app.monitor.states
            await eventually(
                lambda: (s := states.get("boston-web")) is not None and s.last_status is Status.OK,
                what="the satellite's result at the central daemon",
            )
            assert office.requests, "the satellite probed the office's target"
            assert states["boston-web"].last_check_at is not None
        finally:
            stop.set()
            await task
        assert sink.requests == []


async def test_results_wait_in_the_buffer_while_the_central_is_out_of_reach(tmp_path, office):
    """No central daemon answering: pushes fail, every result stays buffered with its time."""
    from escalatord.config.loader import load_text

    config = load_text(
        f'[[check]]\nname = "boston-web"\ntype = "http"\nurl = "{office.url("/web")}"\n'
        'interval = "100ms"\n',
        env={},
    )
    uplink = Uplink(f"http://127.0.0.1:{free_port()}", "boston", TOKEN)
    buffer = Buffer(str(tmp_path / "buffer.sqlite"))
    agent = Agent(config.checks, buffer, uplink, push_every=0.1)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await eventually(lambda: len(buffer) >= 3, what="three buffered results")
        assert await agent.push() is False
    finally:
        stop.set()
        await task
    reopened = Buffer(str(tmp_path / "buffer.sqlite"))
    times = [r["at"] for _, r in reopened.oldest(100)]
    assert len(times) >= 3 and times == sorted(times) and agent.delivered == 0
