"""`escalatord run` with `[daemon] probe_workers`: graceful stop with a probe in a worker."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.daemon import DaemonProcess, free_port, wait_until
from tests.support.http_target import HttpTarget

pytestmark = pytest.mark.e2e


def children(pid: int) -> set[int]:
    """Child processes of `pid`, from /proc."""
    found: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as fh:
            found |= {int(c) for c in fh.read().split()}
    return found


def test_sigterm_waits_for_a_probe_in_a_worker_and_stores_its_result(tmp_path: Path):
    """SIGTERM during a slow probe running in a worker process waits for it, stores its
    result, stops the workers and exits 0."""
    port = free_port()
    with HttpTarget() as target:
        config = tmp_path / "escalatord.toml"
        config.write_text(
            textwrap.dedent(f"""
                [daemon]
                database = "sqlite:///{tmp_path}/escalatord.db"
                listen = "127.0.0.1:{port}"
                shutdown_timeout = "5s"
                probe_workers = 2

                [defaults]
                interval = "1s"
                timeout = "3s"

                [[check]]
                name = "web"
                type = "http"
                url = "{target.url("/")}"
            """)
        )
        daemon = DaemonProcess(config, port, tmp_path / "daemon.log").start()
        try:
            assert daemon.health()["probe_workers"] == {"configured": 2, "alive": 2}
            assert daemon.proc is not None
            workers = children(daemon.proc.pid)
            assert len(workers) == 2
            target.respond(200, "ok", delay=1.5)
            before = len(target.requests)
            wait_until(lambda: len(target.requests) > before, what="a probe in flight")
            in_flight_since = target.requests[-1].at
            daemon.signal(signal.SIGTERM)
            assert daemon.proc.wait(15) == 0
        finally:
            daemon.stop()
    with sqlite3.connect(tmp_path / "escalatord.db") as db:
        last_check_at, summary = db.execute(
            "select last_check_at, last_summary from check_states where \"check\" = 'web'"
        ).fetchone()
    stored = datetime.fromisoformat(last_check_at).replace(tzinfo=UTC).timestamp()
    assert stored >= in_flight_since + 1.0, "the in-flight probe's result was not stored"
    assert "200" in summary
    logs = [json.loads(line) for line in daemon.logs().splitlines()]
    unwanted = ("checks_cut_short", "probe_worker_exited", "probe_worker_killed")
    assert not [r for r in logs if r["event"] in unwanted]
    assert {r["worker"] for r in logs if r["event"] == "probe_worker_started"} == {0, 1}
    for pid in workers:
        assert not os.path.exists(f"/proc/{pid}"), f"worker {pid} outlived the daemon"


def test_workers_die_with_a_killed_daemon(tmp_path: Path):
    """kill -9 of the daemon leaves no probe worker running (the kernel kills them)."""
    port = free_port()
    config = tmp_path / "escalatord.toml"
    config.write_text(
        textwrap.dedent(f"""
            [daemon]
            database = "sqlite:///{tmp_path}/escalatord.db"
            listen = "127.0.0.1:{port}"
            probe_workers = 2

            [[check]]
            name = "self"
            type = "tcp"
            host = "127.0.0.1"
            port = {port}
        """)
    )
    daemon = DaemonProcess(config, port, tmp_path / "daemon.log").start()
    try:
        assert daemon.proc is not None
        workers = children(daemon.proc.pid)
        assert len(workers) == 2
        daemon.kill9()
        wait_until(
            lambda: not any(os.path.exists(f"/proc/{pid}") for pid in workers),
            timeout=5,
            what="the workers to die",
        )
    finally:
        daemon.stop()
