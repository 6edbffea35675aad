"""End to end: a daemon that can no longer write its database says so. On a full disk (a real
tmpfs the test mounts and fills) and with its SQLite file deleted or replaced under it,
/healthz answers 503 naming the cause, /metrics shows it, an error is logged and the systemd
watchdog stops being pinged (so systemd restarts it); on a full disk it recovers by itself
once space returns."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.daemon import DaemonProcess, free_port, wait_until
from tests.support.http_target import HttpTarget
from tests.support.sd_notify import NotifySocket

pytestmark = pytest.mark.e2e

WATCHDOG = 0.4  # WATCHDOG_USEC for the daemon: it pings every 0.2 s while healthy


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    with HttpTarget() as t:
        t.respond(200, "ok")
        yield t


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs of the test's own (needs root or CAP_SYS_ADMIN)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def write_config(tmp_path: Path, database: Path, port: int, target: HttpTarget) -> Path:
    config = tmp_path / "escalatord.toml"
    config.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{database}"
        listen = "127.0.0.1:{port}"
        shutdown_timeout = "3s"

        [defaults]
        interval = "200ms"
        timeout = "2s"

        [[check]]
        name = "web"
        type = "http"
        url = "{target.url("/")}"
    """)
    )
    return config


def health(port: int) -> tuple[int, dict]:
    answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    return answer.status_code, answer.json()


def gauge(port: int, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    assert found, f"no {name} in /metrics"
    return float(found[1])


def errors(daemon: DaemonProcess, event: str) -> list[dict]:
    lines = [json.loads(line) for line in daemon.logs().splitlines() if line.startswith("{")]
    return [e for e in lines if e.get("event") == event and e.get("level") == "error"]


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; returns it."""
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def unhealthy_pings_stop(notify: NotifySocket) -> int:
    """Pings counted once the daemon is unhealthy: one may have been on its way as it turned;
    no more follow. An absence can only be waited out: 2.5 s, a dozen pings while healthy."""
    seen = notify.count("WATCHDOG=1")
    time.sleep(2.5)
    assert notify.count("WATCHDOG=1") <= seen + 1, "the watchdog is still pinged"
    return notify.count("WATCHDOG=1")


def test_full_disk_answers_503_until_space_returns(tmp_path, small_disk, target):
    """With the database's disk full, /healthz answers 503 naming the failed write, /metrics
    says the store is not writable, an error is logged and the watchdog is no longer pinged;
    once space returns the daemon is healthy again by itself."""
    port = free_port()
    config = write_config(tmp_path, small_disk / "escalatord.db", port, target)
    with NotifySocket(tmp_path / "notify.sock") as notify:
        env = notify.env(watchdog=WATCHDOG)
        daemon = DaemonProcess(config, port, tmp_path / "daemon.log", env=env).start()
        try:
            wait_until(lambda: notify.count("WATCHDOG=1") >= 2, what="watchdog pings")
            filler = fill(small_disk)
            wait_until(lambda: health(port)[0] == 503, what="/healthz 503 on a full disk")
            body = health(port)[1]
            assert body["status"] == "unhealthy" and body["store"] is False
            assert any("the last write failed" in p and "full" in p for p in body["problems"])
            assert gauge(port, "escalatord_store_writable") == 0
            assert gauge(port, "escalatord_store_write_failures_total") >= 1
            pings = unhealthy_pings_stop(notify)
            assert errors(daemon, "store_unwritable"), daemon.logs()

            filler.unlink()
            wait_until(lambda: health(port)[0] == 200, what="healthy again with space")
            assert health(port)[1]["problems"] == []
            assert gauge(port, "escalatord_store_writable") == 1
            wait_until(lambda: notify.count("WATCHDOG=1") > pings + 1, what="pings again")
            wait_until(lambda: '"store_writable_again"' in daemon.logs(), what="logged")
        finally:
            assert daemon.stop() == 0, daemon.logs()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_database_file_deleted_or_replaced_is_noticed(tmp_path, target, how):
    """The SQLite files deleted (or the file replaced by a copy) under the running daemon:
    /healthz answers 503 saying so, /metrics shows the file replaced, the log has an error
    naming the file, and the watchdog is no longer pinged so systemd restarts the daemon."""
    port = free_port()
    database = tmp_path / "escalatord.db"
    config = write_config(tmp_path, database, port, target)
    with NotifySocket(tmp_path / "notify.sock") as notify:
        env = notify.env(watchdog=WATCHDOG)
        daemon = DaemonProcess(config, port, tmp_path / "daemon.log", env=env).start()
        try:
            wait_until(lambda: notify.count("WATCHDOG=1") >= 2, what="watchdog pings")
            if how == "deleted":
                for suffix in ("", "-wal", "-shm"):
                    os.unlink(f"{database}{suffix}")
            else:
                shutil.copy(database, tmp_path / "copy.db")
                os.replace(tmp_path / "copy.db", database)
            wait_until(lambda: health(port)[0] == 503, what=f"/healthz 503, database {how}")
            problems = health(port)[1]["problems"]
            # Deleted: a new connection may already have made a new file at the path.
            said = "was deleted" if how == "deleted" else "was deleted or replaced"
            assert any(f"{database} {said}" in p for p in problems), problems
            assert gauge(port, "escalatord_store_file_replaced") == 1
            assert gauge(port, "escalatord_store_writable") == 0
            unhealthy_pings_stop(notify)
            [logged] = errors(daemon, "store_unwritable")
            assert any(str(database) in p for p in logged["problems"])
        finally:
            assert daemon.stop() == 0, daemon.logs()
