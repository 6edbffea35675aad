"""End to end: a job pings `escalatord run` with curl, stops, is paged after grace, comes back."""

from __future__ import annotations

import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import programs
from tests.support.daemon import DaemonProcess, free_port, wait_until
from tests.support.http_target import HttpTarget

pytestmark = [
    pytest.mark.e2e,
    programs.needs("curl"),
]
TOKEN = "e2e-heartbeat-token-0123456789"


@pytest.fixture
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


def ping(port: int, what: str = "") -> float:
    """What a cron job would run: curl with the token in a header; returns when it was sent."""
    sent = time.time()
    subprocess.run(
        ["curl", "-fsS", "-m", "5", "-X", "POST", "-H", f"Authorization: Bearer {TOKEN}",
         "--data-raw", "batch done", f"http://127.0.0.1:{port}/heartbeat/bank-file{what}"],
        check=True, capture_output=True, timeout=10,
    )  # fmt: skip
    return sent


def write_config(tmp_path: Path, port: int, sink: HttpTarget, *, every: str, grace: str,
                 defaults: str = "") -> Path:  # fmt: skip
    """A daemon with one heartbeat check, `bank-file`, paged to `sink` at once."""
    (tmp_path / "token").write_text(TOKEN + "\n")
    config = tmp_path / "escalatord.toml"
    config.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/escalatord.db"
        listen = "127.0.0.1:{port}"
        tick = "200ms"

        [defaults]
        {defaults}

        [[check]]
        name = "bank-file"
        type = "heartbeat"
        every = "{every}"
        grace = "{grace}"
        token_file = "token"
        labels = {{ category = "data-interface" }}

        [[rule]]
        name = "interfaces"
        match = {{ category = "data-interface" }}
        severity = "critical"
        policy = "interfaces"

        [[policy]]
        name = "interfaces"
          [[policy.level]]
          after = "0s"
          notify = ["oncall"]

        [[notifier]]
        name = "oncall"
        type = "webhook"
        url = "{sink.url("/oncall")}"
    """)
    )
    return config


def test_silence_pages_after_grace_and_a_late_ping_resolves(tmp_path, sink):
    """Pings keep it quiet; after they stop the page comes once `every` + `grace` has passed,
    naming the silence; a late ping resolves the incident."""
    port = free_port()
    # retries does not delay heartbeats: grace is their tolerance.
    defaults = 'interval = "200ms"\nretries = 3'
    config = write_config(tmp_path, port, sink, every="1s", grace="1s", defaults=defaults)
    daemon = DaemonProcess(config, port, tmp_path / "daemon.log").start()
    try:
        for _ in range(4):
            last_ping = ping(port)
            time.sleep(0.5)
        assert sink.requests == []
        wait_until(lambda: len(sink.requests) >= 1, timeout=10, what="the page")
        page = sink.requests[0].json()
        assert page["event"] == "triggered"
        assert page["incident"]["check"] == "bank-file"
        assert page["incident"]["severity"] == "critical"
        assert "no ping for" in page["incident"]["summary"]
        assert "expected every 1s + grace 1s" in page["incident"]["summary"]
        silence = sink.requests[0].at - last_ping
        assert silence >= 1.8, f"paged {silence:.1f}s after the last ping, before every + grace"

        ping(port)
        wait_until(lambda: len(sink.requests) >= 2, timeout=10, what="the resolution")
        resolved = sink.requests[1].json()
        assert resolved["event"] == "resolved"
        assert "batch done" in resolved["incident"]["summary"]
        assert TOKEN not in daemon.logs()
    finally:
        assert daemon.stop() == 0, daemon.logs()


# How late after its deadline a page may come: the deadline's timer, the escalation tick
# (200 ms) and the webhook, on a busy CI machine. Judged once per interval, it came up to
# 60 s late.
LATE_BY_AT_MOST = 3.0


def test_silence_pages_at_the_deadline_not_at_the_next_interval(tmp_path, sink):
    """With every 3s, grace 2s and the default 60 s interval, silence is paged within
    seconds of the last ping + 5 s, counted from the latest ping."""
    port = free_port()
    config = write_config(tmp_path, port, sink, every="3s", grace="2s")
    daemon = DaemonProcess(config, port, tmp_path / "daemon.log").start()
    try:
        ping(port)
        time.sleep(2)
        last_ping = ping(port)  # resets the deadline: first ping + 5 s is no longer late
        wait_until(lambda: len(sink.requests) >= 1, timeout=20, what="the page")
        page = sink.requests[0]
        assert page.json()["event"] == "triggered"
        assert "expected every 3s + grace 2s" in page.json()["incident"]["summary"]
        after = page.at - last_ping
        assert 4.9 <= after <= 5 + LATE_BY_AT_MOST, f"paged {after:.1f}s after the last ping"
    finally:
        assert daemon.stop() == 0, daemon.logs()


def test_a_restart_keeps_the_deadline_of_the_stored_ping(tmp_path, sink):
    """After a restart the page still comes at the last ping (stored before the restart)
    + every + grace, not an interval after the new start."""
    port = free_port()
    config = write_config(tmp_path, port, sink, every="3s", grace="2s")
    daemon = DaemonProcess(config, port, tmp_path / "daemon.log").start()
    try:
        last_ping = ping(port)
    finally:
        assert daemon.stop() == 0, daemon.logs()
    daemon = DaemonProcess(config, port, tmp_path / "daemon.log").start()
    started = time.time()
    try:
        wait_until(lambda: len(sink.requests) >= 1, timeout=20, what="the page")
        page = sink.requests[0]
        assert page.json()["event"] == "triggered"
        # Late at last_ping + 5 s, or at the start if the restart took longer than that.
        due = max(last_ping + 5, started)
        assert page.at - last_ping >= 4.9, "paged before the deadline"
        assert page.at - due <= LATE_BY_AT_MOST, f"paged {page.at - due:.1f}s after it was due"
    finally:
        assert daemon.stop() == 0, daemon.logs()
