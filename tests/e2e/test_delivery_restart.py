"""End to end: a page being retried survives `kill -9` of the daemon and is delivered exactly
once after the restart; `test-notify` goes through the outbox like every page."""

from __future__ import annotations

import asyncio
import sqlite3
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from escalatord.store.db import Store
from tests.support.daemon import DaemonProcess, cli, free_port, wait_until
from tests.support.http_target import HttpTarget

pytestmark = pytest.mark.e2e


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    with HttpTarget() as t:
        t.respond(500, "database down", path="/health")
        t.respond(500, "sink exploded", path="/oncall")
        yield t


def write_config(tmp_path: Path, target: HttpTarget, port: int) -> Path:
    config = tmp_path / "escalatord.toml"
    config.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/escalatord.db"
        listen = "127.0.0.1:{port}"
        tick = "200ms"

        [defaults]
        interval = "500ms"
        timeout = "2s"
        retries = 1

        [[check]]
        name = "lab-results-api"
        type = "http"
        url = "{target.url("/health")}"

        [[rule]]
        name = "all"
        severity = "critical"
        policy = "page"

        [[policy]]
        name = "page"
          [[policy.level]]
          after = "0s"
          notify = ["oncall"]

        [[notifier]]
        name = "oncall"
        type = "webhook"
        url = "{target.url("/oncall")}"
        timeout = "2s"
        max_age = "10m"
    """)
    )
    return config


def outbox(tmp_path: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(tmp_path / "escalatord.db") as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM outbox ORDER BY id").fetchall()


def waiting_between_attempts(tmp_path: Path) -> bool:
    """The page failed at least once and waits for its next attempt (not in flight: a row
    being sent is leased tens of seconds ahead, a row backing off only a second or two)."""
    rows = outbox(tmp_path)
    if not rows or rows[0]["status"] != "pending" or rows[0]["attempts"] < 1:
        return False
    now = datetime.now(UTC).replace(tzinfo=None)  # the store keeps naive UTC
    wait = datetime.fromisoformat(rows[0]["next_attempt_at"]) - now
    return 0.3 < wait.total_seconds() < 10


def pages(target: HttpTarget) -> list:
    return [r for r in target.requests if r.path == "/oncall"]


def test_killed_mid_retry_delivers_once_after_restart(tmp_path, target):
    """kill -9 while a page is between retries; the sink recovers; the restarted daemon
    delivers that page exactly once, with the same idempotency key."""
    port = free_port()
    config = write_config(tmp_path, target, port)
    daemon = DaemonProcess(config, port, tmp_path / "daemon.log").start()
    try:
        wait_until(lambda: waiting_between_attempts(tmp_path), what="a page between retries")
    finally:
        daemon.kill9()
    failed = len(pages(target))
    assert failed >= 1
    target.respond(200, "ok", path="/oncall")

    restarted = DaemonProcess(config, port, tmp_path / "daemon2.log").start()
    try:
        wait_until(lambda: len(pages(target)) > failed, what="the page after the restart")
        time.sleep(2.0)  # a duplicate would arrive by now
        assert len(pages(target)) == failed + 1
        [row] = outbox(tmp_path)
        assert row["status"] == "delivered" and row["attempts"] == failed + 1
        assert len({r.headers["Idempotency-Key"] for r in pages(target)}) == 1
        assert (
            pages(target)[-1]
            .json()["incident"]["ack_url"]
            .startswith(f"http://127.0.0.1:{port}/ack/")
        )
    finally:
        assert restarted.stop() == 0, restarted.logs()


def in_flight(tmp_path: Path, target: HttpTarget) -> bool:
    """The page reached the sink, which holds it unanswered: its row is pending, unattempted."""
    rows = outbox(tmp_path)
    return bool(pages(target)) and rows[0]["status"] == "pending" and rows[0]["attempts"] == 0


def test_page_in_flight_at_kill9_is_sent_within_seconds_of_the_restart(tmp_path, target):
    """kill -9 while a page is being sent (the sink holds it unanswered): the restarted daemon
    takes back its dead predecessor's claim and sends the page within seconds, not when the
    claim's lease runs out (notifier timeout + 30 s); the repeat has the same idempotency key."""
    target.respond(hang=True, path="/oncall")
    port = free_port()
    config = write_config(tmp_path, target, port)
    daemon = DaemonProcess(config, port, tmp_path / "daemon.log").start()
    try:
        wait_until(lambda: in_flight(tmp_path, target), what="a page in flight")
    finally:
        daemon.kill9()
    [held] = pages(target)
    target.respond(200, "ok", path="/oncall")

    restarted = DaemonProcess(config, port, tmp_path / "daemon2.log").start()
    try:
        # The lease ran 32 s from the claim; well under that, the page is out again.
        wait_until(lambda: len(pages(target)) == 2, timeout=15, what="the page after restart")
        again = pages(target)[1]
        assert again.headers["Idempotency-Key"] == held.headers["Idempotency-Key"]
        wait_until(lambda: outbox(tmp_path)[0]["status"] == "delivered", what="recorded")
        [row] = outbox(tmp_path)
        assert row["claimed_by"] is None
        assert '"claims_taken_back"' in restarted.logs()
    finally:
        assert restarted.stop() == 0, restarted.logs()


async def create_database(tmp_path: Path) -> None:
    async with Store(f"sqlite:///{tmp_path}/escalatord.db"):
        pass


def test_test_notify_goes_through_the_outbox(tmp_path, target):
    """`test-notify` records its message in the outbox: delivered, or failed with the reason."""
    config = write_config(tmp_path, target, free_port())
    asyncio.run(create_database(tmp_path))  # only `escalatord run` creates one
    failed = cli(config, "test-notify", "oncall", check=False)
    assert failed.returncode == 1 and "500" in failed.stderr
    target.respond(200, "ok", path="/oncall")
    sent = cli(config, "test-notify", "oncall", check=False)
    assert sent.returncode == 0, sent.stderr
    rows = outbox(tmp_path)
    assert [(r["event"], r["status"], r["attempts"]) for r in rows] == [
        ("test", "failed", 1),
        ("test", "delivered", 1),
    ]
    assert "sink exploded" in rows[0]["last_error"]
    assert [r.json()["event"] for r in pages(target)] == ["test", "test"]
