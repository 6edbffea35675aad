"""`[daemon] probe_workers`: active checks probed in worker processes of a running App, against
real targets on loopback (an HTTP server, ICMP to 127.x, TCP, net-snmp's snmpd, snmptrap)."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from escalatord.api.app import prometheus_text
from escalatord.app import App
from escalatord.config.loader import load_text
from escalatord.core.status import Status
from escalatord.monitor import probes
from escalatord.monitor.probes import worker_of
from tests.support import programs
from tests.support.app import config_text, eventually, free_port, page_everything, serving
from tests.support.http_target import HttpTarget
from tests.support.snmp_agent import Snmpd, free_udp_port
from tests.support.traps import LINK_DOWN, body, events, link_trap, with_oper

WORKERS = 2


@asynccontextmanager
async def workers_app(database: Path, checks: str, workers: int = WORKERS) -> AsyncIterator[App]:
    """`running_app` with `probe_workers` set (and raw ICMP: the tests run as root)."""
    port = free_port()
    async with serving(
        load_text(workers_config(database, port, checks, workers), env={}), port
    ) as app:
        yield app


def workers_config(database: Path, port: int, checks: str, workers: int = WORKERS) -> str:
    daemon = f'tick = "100ms"\nprobe_workers = {workers}\nicmp_privileged = true\n'
    return config_text(database, port, checks).replace('tick = "100ms"\n', daemon, 1)


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    with HttpTarget() as t:
        yield t


def pids(app: App) -> list[int]:
    assert app.probes is not None
    return [w.pid for w in app.probes.workers if w.pid is not None]


def pid_of_worker(app: App, check: str) -> int:
    assert app.probes is not None
    worker = app.probes.workers[worker_of(check, len(app.probes.workers))]
    assert worker.pid is not None
    return worker.pid


def socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets process `pid` has open."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            found.add(link[8:-1])
    return found


def connections_to(port: int) -> set[str]:
    """Inodes of established TCP connections whose remote end is loopback port `port`."""
    inodes = set()
    with open("/proc/net/tcp") as fh:
        for line in fh.readlines()[1:]:
            fields = line.split()
            remote, state, inode = fields[2], fields[3], fields[9]
            if int(remote.split(":")[1], 16) == port and state == "01":
                inodes.add(inode)
    return inodes


def icmp_sockets() -> set[str]:
    """Inodes of raw ICMP sockets (protocol 1 in /proc/net/raw)."""
    with open("/proc/net/raw") as fh:
        rows = [line.split() for line in fh.readlines()[1:]]
    return {r[9] for r in rows if int(r[1].split(":")[1], 16) == 1}


def summary_of(app: App, check: str) -> str:
    state = app.monitor.states.get(check)
    return state.last_summary if state else ""


def metric(app: App, name: str) -> float:
    total = 0.0
    for line in prometheus_text(app.metric_sources()).splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_checks_run_in_the_workers_and_page_as_in_process(tmp_path: Path, target: HttpTarget):
    """http, tcp and ping checks are probed by the worker processes (which hold the HTTP
    connection and the ICMP socket, the daemon's process neither), and a failure they find
    opens an incident paged through a webhook as it would in-process."""
    checks = f"""
        [[check]]
        name = "web"
        type = "http"
        url = "{target.url("/health")}"

        [[check]]
        name = "port"
        type = "tcp"
        host = "127.0.0.1"
        port = {target.port}

        [[check]]
        name = "router"
        type = "ping"
        host = "127.0.0.2"
        count = 1
    """ + page_everything(target.url("/hook"))
    async with workers_app(tmp_path / "escalatord.db", checks) as app:
        await eventually(
            lambda: all(
                app.monitor.states.get(n) and app.monitor.states[n].last_status is Status.OK
                for n in ("web", "port", "router")
            ),
            what="ok results from the workers",
        )
        web_conn = connections_to(target.port) & socket_inodes(pid_of_worker(app, "web"))
        assert web_conn, "the worker that runs `web` holds no connection to the target"
        assert not connections_to(target.port) & socket_inodes(os.getpid())
        assert icmp_sockets() & socket_inodes(pid_of_worker(app, "router"))
        assert metric(app, "escalatord_probe_workers_alive") == WORKERS
        assert metric(app, "escalatord_probe_worker_probes_total") >= 3

        target.respond(500, "down", path="/health")
        await eventually(lambda: bool(hooks(target, "web")), what="the page for web")
        [page] = hooks(target, "web")
        assert page["event"] == "triggered"
        assert page["incident"]["summary"].startswith("HTTP 500")
        target.respond(200, "ok", path="/health")
        await eventually(lambda: len(hooks(target, "web")) == 2, what="the resolution")
        assert hooks(target, "web")[1]["event"] == "resolved"


def hooks(target: HttpTarget, check: str) -> list[dict]:
    return [
        r.json()
        for r in list(target.requests)
        if r.path == "/hook" and r.json()["incident"]["check"] == check
    ]


async def test_a_killed_worker_fails_its_probe_as_unknown_and_comes_back(
    tmp_path: Path, target: HttpTarget
):
    """kill -9 of a worker makes its probe in flight unknown ("probe worker exited (killed by
    SIGKILL)"), the worker is started again and its checks carry on; the other worker's checks
    never stop."""
    names = [f"web-{i}" for i in range(8)]
    slow = next(n for n in names if worker_of(n, WORKERS) == 0)
    other = next(n for n in names if worker_of(n, WORKERS) == 1)
    checks = "".join(
        f"""
        [[check]]
        name = "{name}"
        type = "http"
        url = "{target.url("/slow" if name == slow else "/fast")}"
        """
        for name in (slow, other)
    )
    target.respond(200, "ok", path="/slow", delay=3.0)
    async with workers_app(tmp_path / "escalatord.db", checks) as app:
        await eventually(
            lambda: any(r.path == "/slow" for r in target.requests), what="the slow probe"
        )
        victim = pid_of_worker(app, slow)
        os.kill(victim, signal.SIGKILL)
        await eventually(
            lambda: "probe worker exited" in summary_of(app, slow),
            what="the unknown result",
        )
        assert metric(app, "escalatord_probe_workers_alive") == 1
        async with httpx.AsyncClient() as client:  # one worker of two down: degraded, not down
            health = await client.get(app.base_url + "/healthz")  # type: ignore[attr-defined]
        assert health.status_code == 200
        assert health.json()["probe_workers"] == {"configured": 2, "alive": 1}
        state = app.monitor.states[slow]
        assert state.last_status is Status.UNKNOWN
        assert state.last_summary == (
            "probe worker exited (killed by SIGKILL); the check runs again on schedule"
        )
        ran_before = fast_runs = len([r for r in target.requests if r.path == "/fast"])
        target.respond(200, "ok", path="/slow")
        await eventually(lambda: app.monitor.states[slow].last_status is Status.OK, within=15)
        assert pid_of_worker(app, slow) != victim
        assert metric(app, "escalatord_probe_worker_restarts_total") == 1
        fast_runs = len([r for r in target.requests if r.path == "/fast"])
        assert fast_runs > ran_before + 3, "the other worker's check stalled"
        assert app.monitor.states[other].last_status is Status.OK


async def test_a_stuck_worker_cannot_hang_its_checks(
    tmp_path: Path, target: HttpTarget, monkeypatch: pytest.MonkeyPatch
):
    """A worker that stops answering (SIGSTOP) makes its checks unknown once their timeout
    and the margin have passed, instead of leaving them waiting."""
    monkeypatch.setattr(probes, "PROBE_MARGIN", 0.5)  # the default 5 s, shortened for speed
    checks = f"""
        [[check]]
        name = "web"
        type = "http"
        url = "{target.url("/")}"
        timeout = "1s"
    """
    async with workers_app(tmp_path / "escalatord.db", checks, workers=1) as app:
        await eventually(lambda: "HTTP 200" in summary_of(app, "web"), what="a first result")
        worker = pids(app)[0]
        os.kill(worker, signal.SIGSTOP)
        try:
            await eventually(lambda: "gave no result" in summary_of(app, "web"), within=5)
        finally:
            os.kill(worker, signal.SIGCONT)
        assert summary_of(app, "web") == (
            "probe worker 0 gave no result within 1s + 0.5s; the check runs again on schedule"
        )
        assert app.monitor.states["web"].last_status is Status.UNKNOWN
        await eventually(lambda: "HTTP 200" in summary_of(app, "web"), what="results again")


UPLINK = """
    [[check]]
    name = "uplink"
    type = "snmp_interface"
    host = "127.0.0.1"
    port = {port}
    community = "public"
    interface = "ge-0/0/1"
    interval = "1h"          # polled when the test says so
    retry_interval = "1h"
    retries = 3
"""


async def test_reload_changes_one_check_in_its_worker_and_keeps_the_others_memory(
    tmp_path: Path, target: HttpTarget, agent: Snmpd
):
    """After a reload that changes one check's URL its next run uses the new URL, while an
    unchanged snmp_interface check keeps its resolved ifIndex and last counters in the worker
    (its next poll reports rates, not "first poll")."""
    web = '[[check]]\nname = "web"\ntype = "http"\nurl = "{url}"\n'
    uplink = UPLINK.format(port=agent.port)
    database, port = tmp_path / "escalatord.db", free_port()
    app = App(
        load_text(workers_config(database, port, web.format(url=target.url("/a")) + uplink), env={})
    )
    await app.start()
    try:
        await app.monitor.run_check("uplink")
        assert "first poll" in app.monitor.states["uplink"].last_summary
        assert app.monitor.checks["uplink"].if_index == 3  # type: ignore[attr-defined]
        await eventually(lambda: any(r.path == "/a" for r in target.requests), what="/a")

        new = web.format(url=target.url("/b")) + uplink
        await app.reload(load_text(workers_config(database, port, new), env={}))
        await eventually(lambda: any(r.path == "/b" for r in target.requests), what="/b")
        first_b = next(i for i, r in enumerate(target.requests) if r.path == "/b")
        await eventually(lambda: len(target.requests) > first_b + 3, what="more runs")
        assert all(r.path == "/b" for r in target.requests[first_b:])

        await app.monitor.run_check("uplink")
        summary = app.monitor.states["uplink"].last_summary
        assert "first poll" not in summary and "ge-0/0/1 (ifIndex 3): up, in " in summary
    finally:
        await app.stop(2.0)


@programs.needs("snmptrap")
async def test_link_down_trap_reaches_a_check_probed_in_a_worker(
    tmp_path: Path, target: HttpTarget, agent: Snmpd
):
    """The trap receiver (in the daemon's process) matches a linkDown to an snmp_interface
    check by the ifIndex its worker resolved, and the incident is paged at once."""
    trap_port = free_udp_port()
    checks = body(trap_port, target, UPLINK.format(port=agent.port))
    async with workers_app(tmp_path / "escalatord.db", checks) as app:
        await app.monitor.run_check("uplink")  # the worker resolves ge-0/0/1 to ifIndex 3
        assert app.monitor.states["uplink"].last_status is Status.OK
        agent.set_state(with_oper(2))
        await link_trap(trap_port, LINK_DOWN, 3)
        await eventually(lambda: bool(events(target, "uplink")), what="the linkDown page")
        assert events(target, "uplink") == [
            ("triggered", "linkDown trap from 127.0.0.1 (ifIndex 3)")
        ]
