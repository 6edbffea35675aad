"""A remote office in a network namespace: its router and three hosts answer real ICMP over a
veth pair; the test takes the office's link down and brings it back.

Expected from `escalatord run`: one root-cause incident for the router listing the three
hosts, no page for any host while the link is down, and on recovery the router's incident
resolved and only the host that is still down paged on its own. The same logic runs without
namespaces in tests/integration/test_dependencies.py.

Nothing leaves the machine: the office addresses (198.18.77.0/24, the benchmarking range) are
routed into the namespace, and a blackhole route for the range catches anything if the veth
route were ever missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import programs
from tests.support.app import page_everything
from tests.support.daemon import DaemonProcess, cli, free_port, wait_until
from tests.support.http_target import HttpTarget

pytestmark = pytest.mark.netns

NET = "198.18.77"
ROUTER = f"{NET}.2"
HOSTS = {"office-host-1": f"{NET}.11", "office-host-2": f"{NET}.12", "office-host-3": f"{NET}.13"}


def ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def office() -> Iterator[str]:
    """The "office" namespace holding the router and hosts; yields its name. Removed after."""
    if os.geteuid() != 0:
        pytest.skip("the remote-office scenario needs root to create network namespaces")
    programs.require("ip")
    ns, host_if = f"office{os.getpid()}", f"off{os.getpid()}"
    steps = [
        ("netns", "add", ns),
        ("link", "add", host_if, "type", "veth", "peer", "name", "wan0", "netns", ns),
        ("route", "add", "blackhole", f"{NET}.0/24", "metric", "4000"),
        ("addr", "add", f"{NET}.1/24", "dev", host_if),
        ("link", "set", host_if, "up"),
        ("-n", ns, "addr", "add", f"{ROUTER}/24", "dev", "wan0"),
        *(("-n", ns, "addr", "add", f"{a}/24", "dev", "wan0") for a in HOSTS.values()),
        ("-n", ns, "link", "set", "wan0", "up"),
        ("-n", ns, "link", "set", "lo", "up"),
    ]
    try:
        for step in steps:
            done = ip(*step)
            if done.returncode != 0:
                reason = f"cannot create the office namespace: `ip {' '.join(step)}`: "
                print(reason + done.stderr.strip())
                pytest.skip(reason + done.stderr.strip())
        for address in (ROUTER, *HOSTS.values()):  # never ping out of the machine
            assert f"dev {host_if}" in ip("route", "get", address).stdout
        yield ns
    finally:
        ip("link", "del", host_if)
        ip("netns", "del", ns)
        ip("route", "del", "blackhole", f"{NET}.0/24", "metric", "4000")


def config(tmp_path: Path, port: int, sink: HttpTarget) -> Path:
    hosts = "".join(
        f"""
        [[check]]
        name = "{name}"
        type = "ping"
        host = "{address}"
        depends_on = ["office-router"]
        labels = {{ site = "boston" }}
        """
        for name, address in HOSTS.items()
    )
    path = tmp_path / "escalatord.toml"
    path.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/escalatord.db"
        listen = "127.0.0.1:{port}"
        tick = "100ms"
        icmp_privileged = true

        [defaults]
        interval = "500ms"
        retry_interval = "300ms"
        timeout = "1s"
        retries = 2

        [[check]]
        name = "office-router"
        type = "ping"
        host = "{ROUTER}"
        count = 1
        labels = {{ site = "boston", category = "remote-office" }}
        {hosts}
        {page_everything(sink.url("/hook"))}
        """)
    )
    return path


def pages(sink: HttpTarget) -> list[tuple[str, str]]:
    return [(r.json()["event"], r.json()["incident"]["check"]) for r in sink.requests]


def incidents(path: Path) -> list[dict]:
    return json.loads(cli(path, "incidents", "--all", "--json").stdout)


def test_office_link_down_pages_once_for_the_router_and_recovers_correctly(
    office: str, tmp_path: Path
) -> None:
    """Link down: one incident (the router's) naming the three hosts, one page. Link back with
    one host still down: the router's incident resolves and only that host is paged."""
    with HttpTarget() as sink:
        port = free_port()
        path = config(tmp_path, port, sink)
        daemon = DaemonProcess(path, port, tmp_path / "daemon.log").start()
        try:
            wait_until(lambda: "checks" in daemon.health(), what="the daemon")
            ok = json.loads(cli(path, "check", "office-host-1", "--json", check=False).stdout)
            assert ok["status"] == "ok", ok

            ip("-n", office, "link", "set", "wan0", "down")
            wait_until(lambda: len(sink.requests) >= 1, what="the router's page")
            wait_until(
                lambda: len(incidents(path)[0]["affected"]) == 3,
                what="all three hosts listed as affected",
            )
            [incident] = incidents(path)
            assert incident["check"] == "office-router"
            assert incident["title"].startswith(
                "office-router is CRITICAL — 3 checks unreachable (site boston): "
            )
            assert [a["check"] for a in incident["affected"]] == sorted(HOSTS)
            assert pages(sink) == [("triggered", "office-router")]

            ip("-n", office, "addr", "del", f"{HOSTS['office-host-3']}/24", "dev", "wan0")
            ip("-n", office, "link", "set", "wan0", "up")
            wait_until(lambda: len(sink.requests) >= 3, what="recovery and the host's own page")
            assert pages(sink) == [
                ("triggered", "office-router"),
                ("resolved", "office-router"),
                ("triggered", "office-host-3"),
            ]
            listed = [(i["check"], i["status"]) for i in incidents(path)]
            assert listed == [("office-host-3", "triggered"), ("office-router", "resolved")]
        finally:
            assert daemon.stop() == 0, daemon.logs()
        assert pages(sink) == [
            ("triggered", "office-router"),
            ("resolved", "office-router"),
            ("triggered", "office-host-3"),
        ], "nothing else was sent before the daemon stopped"
