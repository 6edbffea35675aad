"""The daemon's lifecycle as systemd sees it: reload, sd_notify, graceful stop, JSON logs."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support.daemon import DaemonProcess, free_port, wait_until
from tests.support.http_target import HttpTarget

pytestmark = pytest.mark.e2e


def config_text(tmp_path: Path, port: int, target: HttpTarget, extra: str = "") -> str:
    return textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/escalatord.db"
        listen = "127.0.0.1:{port}"
        shutdown_timeout = "5s"

        [defaults]
        interval = "1s"
        timeout = "3s"

        [[check]]
        name = "web"
        type = "http"
        url = "{target.url("/")}"

        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "{target.url("/hook")}"
        headers = {{ Authorization = "Bearer ${{HOOK_TOKEN}}" }}
    """) + textwrap.dedent(extra)


@pytest.fixture
def target():
    with HttpTarget() as t:
        yield t


def test_sighup_applies_a_good_config_and_keeps_running_on_a_bad_one(tmp_path, target):
    """SIGHUP adds a new check; a broken config is logged with file and key, the old one runs."""
    port = free_port()
    config = tmp_path / "escalatord.toml"
    config.write_text(config_text(tmp_path, port, target))
    daemon = DaemonProcess(
        config, port, tmp_path / "daemon.log", env={"HOOK_TOKEN": "s3cr3t-token-value"}
    ).start()
    try:
        assert daemon.health()["checks"] == 1
        config.write_text(
            config_text(
                tmp_path,
                port,
                target,
                f"""
            [[check]]
            name = "web-2"
            type = "tcp"
            host = "127.0.0.1"
            port = {target.port}
        """,
            )
        )
        daemon.signal(signal.SIGHUP)
        wait_until(lambda: daemon.health()["checks"] == 2, what="the reloaded config")

        config.write_text(
            config_text(
                tmp_path,
                port,
                target,
                """
            [[check]]
            name = "broken"
            type = "tcp"
            host = "127.0.0.1"
            port = 0
            interval = "soon"
        """,
            )
        )
        daemon.signal(signal.SIGHUP)
        wait_until(lambda: "reload_failed" in daemon.logs(), what="the rejected reload")
        assert daemon.health() == daemon.health() | {"status": "ok", "checks": 2}
        rejected = [
            json.loads(line) for line in daemon.logs().splitlines() if '"reload_rejected"' in line
        ]
        keys = {r["key"] for r in rejected}
        assert {"check[broken].port", "check[broken].interval"} <= keys
        assert all(r["file"] == str(config) for r in rejected)
    finally:
        assert daemon.stop() == 0
    logs = daemon.logs()
    assert "s3cr3t-token-value" not in logs
    for line in logs.splitlines():  # not a TTY: every line is a JSON object
        assert isinstance(json.loads(line), dict), line


def test_sd_notify_ready_reloading_watchdog_stopping(tmp_path, target):
    """Under systemd the daemon says READY, RELOADING then READY, pings the watchdog, STOPPING."""
    port = free_port()
    config = tmp_path / "escalatord.toml"
    config.write_text(config_text(tmp_path, port, target))
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.2)
    messages: list[str] = []

    def drain() -> list[str]:
        while True:
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                return messages

    env = {"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "400000", "HOOK_TOKEN": "x"}
    daemon = DaemonProcess(config, port, tmp_path / "daemon.log", env=env).start()
    try:
        wait_until(lambda: any(m.startswith("READY=1") for m in drain()), what="READY=1")
        wait_until(lambda: sum(m == "WATCHDOG=1" for m in drain()) >= 2, what="watchdog pings")
        daemon.signal(signal.SIGHUP)
        wait_until(lambda: any(m.startswith("RELOADING=1") for m in drain()), what="RELOADING")
        reloading = next(m for m in messages if m.startswith("RELOADING=1"))
        assert "MONOTONIC_USEC=" in reloading

        def ready_after_reload() -> bool:
            drain()
            start = messages.index(reloading)
            return "READY=1" in messages[start + 1 :]

        wait_until(ready_after_reload, what="READY after reload")
        assert daemon.stop() == 0
        assert "STOPPING=1" in drain()
    finally:
        daemon.stop()
        sock.close()


def test_sigterm_lets_a_running_check_finish_and_stores_its_result(tmp_path, target):
    """SIGTERM during a slow probe waits for it, stores the result, and exits 0."""
    port = free_port()
    config = tmp_path / "escalatord.toml"
    config.write_text(config_text(tmp_path, port, target))
    daemon = DaemonProcess(config, port, tmp_path / "daemon.log", env={"HOOK_TOKEN": "x"})
    daemon.start()
    target.respond(200, "ok", delay=1.5)
    before = len(target.requests)
    wait_until(lambda: len(target.requests) > before, what="a probe in flight")
    in_flight_since = target.requests[-1].at
    daemon.signal(signal.SIGTERM)
    assert daemon.proc.wait(15) == 0
    with sqlite3.connect(tmp_path / "escalatord.db") as db:
        last_check_at, summary = db.execute(
            "select last_check_at, last_summary from check_states where \"check\" = 'web'"
        ).fetchone()
    stored = datetime.fromisoformat(last_check_at).replace(tzinfo=UTC).timestamp()
    assert stored >= in_flight_since + 1.0, "the in-flight probe's result was not stored"
    assert "200" in summary
    assert '"checks_cut_short"' not in daemon.logs()


def _opened(pid: int, path: Path) -> bool:
    """Whether process `pid` has the file at `path` open."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.path.realpath(fd) == str(path) for fd in fds.iterdir())
    except OSError:  # an fd closed while it was read
        return False


def test_sigterm_while_starting_stops_in_order(tmp_path, target):
    """A SIGTERM that lands while the daemon is still starting (its database busy) is not
    fatal: start finishes, the daemon stops in order and exits 0."""
    port = free_port()
    config = tmp_path / "escalatord.toml"
    config.write_text(config_text(tmp_path, port, target))
    db_path = tmp_path / "escalatord.db"
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("pragma journal_mode=wal")
    holder.execute("begin immediate")  # the daemon's first write waits for this lock
    daemon = DaemonProcess(config, port, tmp_path / "daemon.log", env={"HOOK_TOKEN": "x"})
    try:
        daemon.spawn()
        wait_until(lambda: _opened(daemon.proc.pid, db_path), what="the daemon opening its store")
        daemon.signal(signal.SIGTERM)
    finally:
        holder.rollback()
        holder.close()
    assert daemon.proc.wait(20) == 0, daemon.logs()
    assert '"stopped"' in daemon.logs()


def _young_collections(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = re.search(r'^python_gc_collections_total\{generation="0"\} (\S+)$', text, re.M)
    assert found, "no python_gc_collections_total in /metrics"
    return float(found[1])


def test_garbage_collection_runs_again_once_started(tmp_path, target):
    """`escalatord run` starts with the garbage collector off; once started, collections run
    again as the daemon works (memory in cycles is freed)."""
    port = free_port()
    config = tmp_path / "escalatord.toml"
    config.write_text(config_text(tmp_path, port, target))
    daemon = DaemonProcess(config, port, tmp_path / "daemon.log", env={"HOOK_TOKEN": "x"})
    daemon.start()
    try:
        first = _young_collections(port)
        wait_until(
            lambda: _young_collections(port) > first, what="a garbage collection after start-up"
        )
    finally:
        daemon.stop()
