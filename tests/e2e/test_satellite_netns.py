"""A satellite in a network namespace whose link the test cuts (issue 17).

The central daemon (`escalatord run`) listens on the host end of a veth pair (198.18.78.1, the
benchmarking range, so nothing could leave the machine: a blackhole route catches the range);
`escalatord satellite` runs inside the namespace and probes an HTTP server on the namespace's
own loopback. The test takes the link down from the namespace side, fails the target and
mends it while the link is down, then brings the link back.

Expected: the central daemon sees the satellite silent and sends exactly ONE page for the
site ("boston satellite silent", the checks listed as unreachable); the satellite buffers its
results meanwhile; once the link is back they are delivered in order with their original
times, the failure taken during the cut is recorded (`satellite_result_recorded`, fate
superseded or late) and never paged, the satellite's incident resolves, and the check is
judged ok again on its next fresh result. Pages at the sink: triggered and resolved for
`satellite:boston`, nothing for the check.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.support import programs
from tests.support.app import page_everything
from tests.support.daemon import DaemonProcess, wait_until
from tests.support.http_target import HttpTarget
from tests.support.net import free_port

pytestmark = pytest.mark.netns

NET = "198.18.78"
CENTRAL, OFFICE = f"{NET}.1", f"{NET}.2"
TOKEN = "boston-satellite-token-0123456789"


def ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def office() -> Iterator[str]:
    """The office namespace, linked to the host by a veth pair; yields its name."""
    if os.geteuid() != 0:
        pytest.skip("the satellite scenario needs root to create network namespaces")
    programs.require("ip")
    ns, host_if = f"sat{os.getpid()}", f"sat{os.getpid()}h"
    steps = [
        ("netns", "add", ns),
        ("link", "add", host_if, "type", "veth", "peer", "name", "wan0", "netns", ns),
        ("route", "add", "blackhole", f"{NET}.0/24", "metric", "4000"),
        ("addr", "add", f"{CENTRAL}/24", "dev", host_if),
        ("link", "set", host_if, "up"),
        ("-n", ns, "addr", "add", f"{OFFICE}/24", "dev", "wan0"),
        ("-n", ns, "link", "set", "wan0", "up"),
        ("-n", ns, "link", "set", "lo", "up"),
    ]
    try:
        for step in steps:
            done = ip(*step)
            if done.returncode != 0:
                pytest.skip(
                    f"cannot create the office namespace: `ip {' '.join(step)}`: "
                    + done.stderr.strip()
                )
        assert f"dev {host_if}" in ip("route", "get", OFFICE).stdout  # never out of the machine
        yield ns
    finally:
        ip("link", "del", host_if)
        ip("netns", "del", ns)
        ip("route", "del", "blackhole", f"{NET}.0/24", "metric", "4000")


def central_config(tmp_path: Path, port: int, target_port: int, sink: HttpTarget) -> Path:
    path = tmp_path / "central.toml"
    path.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/central.db"
        listen = "{CENTRAL}:{port}"
        tick = "100ms"

        [[satellite]]
        name = "boston"
        sites = ["boston"]
        token = "{TOKEN}"
        silent_after = "3s"
        slack = "1s"

        [[check]]
        name = "boston-web"
        type = "http"
        url = "http://127.0.0.1:{target_port}/health"
        interval = "500ms"
        retry_interval = "300ms"
        retries = 2
        timeout = "1s"
        labels = {{ site = "boston" }}
        {page_everything(sink.url("/hook"))}
        """)
    )
    return path


def log_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def buffered(path: Path) -> list[dict]:
    """The satellite's buffered results (read beside it: WAL lets a reader in)."""
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return [json.loads(b) for (b,) in db.execute("SELECT body FROM results ORDER BY at, id")]


def pages(sink: HttpTarget) -> list[tuple[str, str]]:
    return [(r.json()["event"], r.json()["incident"]["check"]) for r in sink.requests]


def test_a_cut_satellite_is_one_page_and_its_buffered_failure_is_never_paged(
    office: str, tmp_path: Path
) -> None:
    """Link cut: one root-cause page; a failure during the cut, over before the link returns,
    is delivered for the record and not paged; the incident resolves when batches resume."""
    site = tmp_path / "www"
    site.mkdir()
    (site / "health").write_text("ok")
    target_port = free_port()
    server = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            office,
            sys.executable,
            "-m",
            "http.server",
            str(target_port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(site),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state = tmp_path / "satellite"
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    satellite_log = tmp_path / "satellite.log"
    satellite = None
    with HttpTarget() as sink:
        port = free_port()
        daemon = DaemonProcess(
            central_config(tmp_path, port, target_port, sink), port, tmp_path / "central.log"
        ).spawn()
        try:
            url = f"http://{CENTRAL}:{port}"

            def healthy() -> bool:
                try:
                    return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(healthy, what="the central daemon")
            with open(satellite_log, "wb") as out:
                satellite = subprocess.Popen(
                    [
                        "ip",
                        "netns",
                        "exec",
                        office,
                        sys.executable,
                        "-m",
                        "escalatord",
                        "satellite",
                        "--central",
                        url,
                        "--allow-http",
                        "--name",
                        "boston",
                        "--token-file",
                        str(token_file),
                        "--state-dir",
                        str(state),
                        "--push-every",
                        "0.3",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )

            def central(event: str) -> list[dict]:
                return [e for e in log_lines(daemon.logs()) if e.get("event") == event]

            wait_until(
                lambda: any(e.get("applied") for e in central("satellite_batch")),
                what="a batch applied at the central daemon",
            )
            assert sink.requests == []

            ip("-n", office, "link", "set", "wan0", "down")
            wait_until(lambda: len(sink.requests) >= 1, what="the satellite's page")
            page = sink.requests[0].json()["incident"]
            assert page["check"] == "satellite:boston"
            assert page["title"].startswith("boston satellite silent")

            # A failure at the office while the link is down, over before it returns.
            buffer = state / "boston.buffer.sqlite"
            (site / "health").unlink()
            wait_until(
                lambda: any(r["status"] == "critical" for r in buffered(buffer)),
                what="a failure buffered at the satellite",
            )
            failed_at = max(r["at"] for r in buffered(buffer) if r["status"] == "critical")
            (site / "health").write_text("ok")
            wait_until(
                lambda: any(r["status"] == "ok" and r["at"] > failed_at for r in buffered(buffer)),
                what="the recovery buffered at the satellite",
            )
            restored = datetime.now().astimezone()
            ip("-n", office, "link", "set", "wan0", "up")

            wait_until(lambda: len(sink.requests) >= 2, what="the satellite's recovery")
            wait_until(
                lambda: any(
                    e.get("check") == "boston-web" and e.get("current") == "ok"
                    for e in central("transition")
                ),
                what="the check judged ok again on a fresh result",
                timeout=30,
            )
            recorded = [
                e
                for e in central("satellite_result_recorded")
                if e["check"] == "boston-web" and e["status"] == "critical"
            ]
            assert recorded, "the failure during the cut was delivered for the record"
            assert all(e["fate"] in ("superseded", "late") for e in recorded)
            assert all(datetime.fromisoformat(e["at"]) < restored for e in recorded)
            assert not any(
                e.get("check") == "boston-web" and e.get("current") == "critical"
                for e in central("transition")
            ), "the buffered failure never reached the state machine"
        finally:
            if satellite is not None:
                satellite.terminate()
                assert satellite.wait(20) == 0, satellite_log.read_text()
            assert daemon.stop() == 0, daemon.logs()
            server.terminate()
            server.wait(10)
        assert pages(sink) == [
            ("triggered", "satellite:boston"),
            ("resolved", "satellite:boston"),
        ], "one page for the site, its recovery, and nothing for the check"
        delivered = [
            e for e in log_lines(satellite_log.read_text()) if e.get("event") == "batch_delivered"
        ]
        assert delivered and delivered[-1]["left"] == 0, "the buffer was delivered whole"
