"""`[daemon] icmp_privileged`: "auto" (the default) pings with whatever socket the process may
open; true and false force one. Each case runs escalatord as a process with the privilege it
is about: as root, without CAP_NET_RAW (`setpriv` drops it from the bounding set, so not even
root keeps it), and in a throwaway network namespace whose own `net.ipv4.ping_group_range`
the test sets (the sysctl is per namespace: the host's is never touched).

Only 127.0.0.1 is pinged. Tests that need root, `setpriv` or `ip` are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from escalatord.checks.ping.icmp_mode import opens
from tests.support import programs
from tests.support.daemon import DaemonProcess, free_port, wait_until

pytestmark = pytest.mark.e2e

NO_RAW = ("setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw")
ALL_GROUPS = "0 2147483647"
NOBODY = "1 0"  # Debian's default: no group may open unprivileged ICMP sockets


def needs_root_and(*tools: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"needs root and {', '.join(tools)}")
    programs.require(*tools)


def host_range_allows_us() -> bool:
    with open("/proc/sys/net/ipv4/ping_group_range") as fh:
        low, high = map(int, fh.read().split())
    return any(low <= gid <= high for gid in {os.getgid(), *os.getgroups()})


def write_config(tmp_path: Path, port: int, daemon: str = "") -> Path:
    """One ping check of 127.0.0.1 every second; `daemon` adds lines to [daemon]."""
    path = tmp_path / "escalatord.toml"
    path.write_text(
        textwrap.dedent(f"""
            [daemon]
            database = "sqlite:///{tmp_path}/escalatord.db"
            listen = "127.0.0.1:{port}"
            {daemon}

            [defaults]
            interval = "1s"
            retries = 1

            [[check]]
            name = "lo"
            type = "ping"
            host = "127.0.0.1"
            count = 1
        """)
    )
    return path


def escalatord(prefix: tuple[str, ...], config: Path, *args: str) -> subprocess.CompletedProcess:
    """One `escalatord` command run through `prefix` (a namespace, a dropped capability)."""
    argv = [*prefix, sys.executable, "-m", "escalatord", *args, "--config", str(config)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def last_result(tmp_path: Path) -> tuple[str, str] | None:
    """The stored (status, summary) of the last run of check `lo`, once there is one."""
    db = tmp_path / "escalatord.db"
    if not db.exists():
        return None
    with sqlite3.connect(db) as conn:
        try:
            row = conn.execute(
                "select last_status, last_summary from check_states where \"check\" = 'lo'"
            ).fetchone()
        except sqlite3.OperationalError:  # the schema is not there yet
            return None
    return row if row and row[0] else None


def events(daemon: DaemonProcess, name: str) -> list[dict]:
    records = [json.loads(line) for line in daemon.logs().splitlines() if line.startswith("{")]
    return [r for r in records if r.get("event") == name]


@pytest.fixture
def namespace() -> Iterator[tuple[str, ...]]:
    """A network namespace with lo up; yields the `ip netns exec` prefix. Removed afterwards."""
    needs_root_and("ip", "setpriv")
    ns = f"escicmp{os.getpid()}"
    if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode != 0:
        pytest.skip("cannot create a network namespace")
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        yield ("ip", "netns", "exec", ns)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def set_range(netns: tuple[str, ...], value: str) -> None:
    sysctl = ["sysctl", "-qw", f"net.ipv4.ping_group_range={value}"]
    subprocess.run([*netns, *sysctl], check=True, capture_output=True)


@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "probe-worker"])
def test_root_daemon_without_the_key_pings_loopback_ok(tmp_path: Path, workers: int):
    """As root with no icmp_privileged key the daemon (and its probe worker) pings 127.0.0.1
    OK over a raw socket, and its start log says so."""
    if not opens(True):
        pytest.skip("this process may not open raw ICMP sockets (not root, no CAP_NET_RAW)")
    port = free_port()
    config = write_config(tmp_path, port, f"probe_workers = {workers}")
    daemon = DaemonProcess(config, port, tmp_path / "daemon.log").start()
    try:
        wait_until(lambda: last_result(tmp_path) is not None, what="a ping result")
    finally:
        daemon.stop()
    status, summary = last_result(tmp_path) or ("", "")
    assert status == "ok", summary
    assert [e["icmp"] for e in events(daemon, "started")] == ["raw"]
    assert events(daemon, "icmp_unavailable") == []


def test_daemon_without_cap_net_raw_or_sysctl_warns_and_ping_is_unknown(tmp_path: Path):
    """Without CAP_NET_RAW where ping_group_range refuses, the daemon warns at start and the
    ping check is unknown with a summary naming both fixes."""
    needs_root_and("setpriv")
    if host_range_allows_us():
        pytest.skip("this machine's net.ipv4.ping_group_range allows our group")
    port = free_port()
    config = write_config(tmp_path, port)
    daemon = DaemonProcess(config, port, tmp_path / "daemon.log", prefix=NO_RAW).start()
    try:
        wait_until(lambda: last_result(tmp_path) is not None, what="a ping result")
    finally:
        daemon.stop()
    status, summary = last_result(tmp_path) or ("", "")
    assert status == "unknown"
    assert "no CAP_NET_RAW" in summary and "AmbientCapabilities=CAP_NET_RAW" in summary
    assert "outside net.ipv4.ping_group_range" in summary
    assert [e["icmp"] for e in events(daemon, "started")] == ["unavailable"]
    [warning] = events(daemon, "icmp_unavailable")
    assert warning["problem"] == summary
    done = escalatord(NO_RAW, config, "check-config")
    assert done.returncode == 0, done.stderr
    assert "warning: ICMP: unavailable" in done.stderr
    assert "ping checks will be unknown" in done.stderr


def test_auto_without_cap_net_raw_uses_unprivileged_sockets_where_the_sysctl_allows(
    tmp_path: Path, namespace: tuple[str, ...]
):
    """Without CAP_NET_RAW, "auto" falls back to unprivileged sockets when ping_group_range
    allows the group: check-config says so and the ping is OK."""
    set_range(namespace, ALL_GROUPS)
    config = write_config(tmp_path, free_port())
    prefix = (*namespace, *NO_RAW)
    shown = escalatord(prefix, config, "check-config")
    assert shown.returncode == 0, shown.stderr
    assert 'ICMP: unprivileged sockets (icmp_privileged = "auto": no CAP_NET_RAW' in shown.stdout
    assert "warning: ICMP" not in shown.stderr
    done = escalatord(prefix, config, "check", "lo")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("lo: OK"), done.stdout


def test_forced_false_as_root_stays_unprivileged_and_is_unknown_where_refused(
    tmp_path: Path, namespace: tuple[str, ...]
):
    """icmp_privileged = false keeps forcing unprivileged sockets even as root: where
    ping_group_range refuses, the check is unknown naming the fix and check-config warns."""
    set_range(namespace, NOBODY)
    config = write_config(tmp_path, free_port(), "icmp_privileged = false")
    done = escalatord(namespace, config, "check", "lo")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "UNKNOWN — cannot open an unprivileged ICMP socket" in done.stdout
    assert "outside net.ipv4.ping_group_range = 1 0" in done.stdout
    shown = escalatord(namespace, config, "check-config")
    assert shown.returncode == 0, shown.stderr
    assert "warning: ICMP: unavailable (icmp_privileged = false)" in shown.stderr


def test_forced_true_without_cap_net_raw_is_unknown_naming_the_capability(
    tmp_path: Path, namespace: tuple[str, ...]
):
    """icmp_privileged = true never falls back: without CAP_NET_RAW the check is unknown and
    names the capability, even where unprivileged sockets would work."""
    set_range(namespace, ALL_GROUPS)
    config = write_config(tmp_path, free_port(), "icmp_privileged = true")
    done = escalatord((*namespace, *NO_RAW), config, "check", "lo")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "UNKNOWN — cannot open a raw ICMP socket (permission denied)" in done.stdout
    assert "CAP_NET_RAW" in done.stdout


def test_icmp_privileged_takes_only_true_false_or_auto(tmp_path: Path):
    """A value other than true, false or "auto" is rejected naming the file, key and values."""
    config = write_config(tmp_path, free_port(), 'icmp_privileged = "yes"')
    done = escalatord((), config, "check-config")
    assert done.returncode == 2
    assert f"{config}: daemon.icmp_privileged: " in done.stderr
    assert 'must be true, false or "auto"' in done.stderr
