"""GET /metrics of a running App: Prometheus text whose counters follow what the daemon does."""

from __future__ import annotations

import asyncio
import math
import socket
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from escalatord.api.app import LATENESS_WINDOW
from escalatord.app import App
from escalatord.config.loader import load_text
from tests.support.http_target import HttpTarget


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse(text: str) -> dict[str, float]:
    """Sample name (with its labels) -> value; comment lines are checked for shape."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert line.split()[1] in ("HELP", "TYPE"), line
            continue
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    return samples


class Listener:
    """A TCP listener on 127.0.0.1 that accepts and hangs up, counting connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _serve(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def __aenter__(self) -> Listener:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()


async def start_app(tmp_path: Path, port: int, checks: str, rest: str = "") -> App:
    text = textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/escalatord.db"
        listen = "127.0.0.1:{port}"
        tick = "100ms"

        [defaults]
        interval = "200ms"
        timeout = "2s"
        retries = 1
        retry_interval = "200ms"
    """)
    app = App(load_text(text + textwrap.dedent(checks) + textwrap.dedent(rest)))
    await app.start()
    return app


async def poll(client: httpx.AsyncClient, until: Callable[[dict[str, float]], bool]) -> dict:
    """Scrape until `until(samples)` holds; fails after 10 s."""
    for _ in range(200):
        response = await client.get("/metrics")
        samples = parse(response.text)
        if until(samples):
            return samples
        await asyncio.sleep(0.05)
    pytest.fail(f"metrics never reached the expected values; last scrape:\n{response.text}")


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    async with Listener() as opened:
        yield opened


async def test_metrics_count_completed_checks_and_report_lateness(tmp_path, listener):
    """Completed checks, lateness quantiles, skipped runs and memory appear as Prometheus text."""
    port = free_port()
    check = f"""
        [[check]]
        name = "svc"
        type = "tcp"
        host = "127.0.0.1"
        port = {listener.port}
    """
    app = await start_app(tmp_path, port, check)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            first = await client.get("/metrics")
            assert first.status_code == 200
            assert first.headers["content-type"].startswith("text/plain; version=0.0.4")
            assert "# TYPE escalatord_scheduler_lateness_seconds summary" in first.text
            before = parse(first.text)["escalatord_checks_completed_total"]

            after = await poll(
                client, lambda s: s["escalatord_checks_completed_total"] >= before + 3
            )
    finally:
        await app.stop(2.0)

    assert listener.connections >= 3  # the completed runs really reached the target
    assert after["escalatord_scheduler_lateness_samples"] >= 3
    p50 = after['escalatord_scheduler_lateness_seconds{quantile="0.5"}']
    p99 = after['escalatord_scheduler_lateness_seconds{quantile="0.99"}']
    top = after["escalatord_scheduler_lateness_max_seconds"]
    assert all(math.isfinite(v) for v in (p50, p99, top))
    assert 0 <= p50 <= p99 <= top
    assert after["escalatord_scheduler_skipped_total"] == 0
    assert after["escalatord_notifications_sent_total"] == 0
    assert after["escalatord_notifications_failed_total"] == 0
    assert after["process_resident_memory_bytes"] > 1 << 20
    assert after["process_cpu_seconds_total"] > 0


async def test_metrics_count_notifications_sent(tmp_path):
    """A failing check that opens an incident moves the sent and per-notifier counters."""
    port = free_port()
    closed = free_port()  # nothing listens there: the check fails with "connection refused"
    with HttpTarget() as sink:
        app = await start_app(
            tmp_path,
            port,
            f"""
            [[check]]
            name = "svc"
            type = "tcp"
            host = "127.0.0.1"
            port = {closed}
            """,
            f"""
            [[rule]]
            name = "all"
            policy = "page"

            [[policy]]
            name = "page"
              [[policy.level]]
              after = "0s"
              notify = ["hook"]

            [[notifier]]
            name = "hook"
            type = "webhook"
            url = "{sink.url("/hook")}"
            """,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                after = await poll(client, lambda s: s["escalatord_notifications_sent_total"] >= 1)
        finally:
            await app.stop(2.0)
        assert sink.requests and sink.requests[0].json()["event"] == "triggered"
    assert after["escalatord_notifications_failed_total"] == 0
    assert after['escalatord_notifier_outcomes_total{notifier="hook",outcome="delivered"}'] >= 1
    assert after["escalatord_notifications_fallback_total"] == 0


async def test_lateness_figures_cover_only_the_newest_runs(tmp_path, listener):
    """An old lateness spike ages out of /metrics once LATENESS_WINDOW newer runs were seen."""
    port = free_port()
    check = f"""
        [[check]]
        name = "svc"
        type = "tcp"
        host = "127.0.0.1"
        port = {listener.port}
        interval = "1h"
    """
    app = await start_app(tmp_path, port, check)
    try:
        lateness = app.monitor.scheduler.lateness
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            # A stall of 30 s, then a window's worth of punctual runs (as samples: waiting
            # for real runs would take minutes).
            lateness.append(30.0)
            spiked = parse((await client.get("/metrics")).text)
            lateness.extend([0.002] * LATENESS_WINDOW)
            recovered = parse((await client.get("/metrics")).text)
    finally:
        await app.stop(2.0)
    assert spiked["escalatord_scheduler_lateness_max_seconds"] == 30.0
    assert recovered["escalatord_scheduler_lateness_max_seconds"] == 0.002
    assert recovered['escalatord_scheduler_lateness_seconds{quantile="0.99"}'] == 0.002
    assert recovered["escalatord_scheduler_lateness_samples"] == LATENESS_WINDOW
