"""End to end: a job pings `escalatord run` with curl, stops, is paged after grace, comes back."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
import time
from collections.abc import Iterator

import pytest

from tests.support.daemon import DaemonProcess, free_port, wait_until
from tests.support.http_target import HttpTarget

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
]
TOKEN = "e2e-heartbeat-token-0123456789"


@pytest.fixture
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


def ping(port: int, what: str = "") -> None:
    """What a cron job would run: curl with the token in a header."""
    subprocess.run(
        ["curl", "-fsS", "-m", "5", "-X", "POST", "-H", f"Authorization: Bearer {TOKEN}",
         "--data-raw", "batch done", f"http://127.0.0.1:{port}/heartbeat/bank-file{what}"],
        check=True, capture_output=True, timeout=10,
    )  # fmt: skip


def test_silence_pages_after_grace_and_a_late_ping_resolves(tmp_path, sink):
    """Pings keep it quiet; after they stop the page comes once `every` + `grace` has passed,
    naming the silence; a late ping resolves the incident."""
    port = free_port()
    (tmp_path / "token").write_text(TOKEN + "\n")
    config = tmp_path / "escalatord.toml"
    config.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/escalatord.db"
        listen = "127.0.0.1:{port}"
        tick = "200ms"

        [defaults]
        interval = "200ms"
        retries = 3                  # does not delay heartbeats: grace is their tolerance

        [[check]]
        name = "bank-file"
        type = "heartbeat"
        every = "1s"
        grace = "1s"
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
    daemon = DaemonProcess(config, port, tmp_path / "daemon.log").start()
    try:
        for _ in range(4):
            ping(port)
            last_ping = time.time()
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
