"""What an operator sees of an overloaded daemon: /healthz "degraded" and the overload metrics."""

from __future__ import annotations

import socket
import textwrap

import httpx

from escalatord.app import App
from escalatord.config.loader import load_text
from escalatord.core.status import Result, Status
from tests.integration.test_api_metrics import parse


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_an_overloaded_daemon_says_degraded_and_why(tmp_path):
    """A daemon that keeps up says ok and escalatord_overloaded 0; once a probe timeout was its
    own overload, /healthz answers 200 "degraded" naming it and the metrics count it."""
    port = free_port()
    app = App(
        load_text(
            textwrap.dedent(f"""
            [daemon]
            database = "sqlite:///{tmp_path}/escalatord.db"
            listen = "127.0.0.1:{port}"

            [[check]]
            name = "svc"
            type = "tcp"
            host = "127.0.0.1"
            port = {free_port()}
            interval = "1h"
            """)
        )
    )
    await app.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            calm = await client.get("/healthz")
            assert (calm.status_code, calm.json()["status"]) == (200, "ok")
            assert parse((await client.get("/metrics")).text)["escalatord_overloaded"] == 0

            # A probe that used its whole timeout while the daemon lost 10 s of it.
            timed_out = Result(Status.CRITICAL, "timed out after 10s", duration=10.0, lost=10.0)
            config = app.config.check_by_name["svc"]
            assert app.monitor.overload.blames(config, timed_out, app.monitor.scheduler.lag.lost())

            busy = await client.get("/healthz")
            metrics = parse((await client.get("/metrics")).text)
    finally:
        await app.stop(2.0)
    assert busy.status_code == 200
    assert busy.json()["status"] == "degraded"
    assert busy.json()["problems"] == [
        "overloaded: probe timeouts that were the daemon's, not counted against checks: 1"
    ]
    assert metrics["escalatord_overloaded"] == 1
    assert metrics["escalatord_checks_overloaded_total"] == 1
    assert metrics["escalatord_scheduler_running_limit"] > 0
    assert "escalatord_scheduler_behind_seconds" in metrics
    assert "escalatord_loop_lag_max_seconds" in metrics
