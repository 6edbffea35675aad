"""SNMP traps from real senders (net-snmp's snmptrap, pysnmp) into a running App on loopback,
opening and resolving incidents through the rules and paging a real webhook sink."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from escalatord.app import App
from escalatord.config.loader import load_text
from escalatord.core.status import Status
from escalatord.errors import EscalatordError
from tests.support.app import config_text, eventually, free_port, running_app
from tests.support.http_target import HttpTarget
from tests.support.snmp_agent import free_udp_port
from tests.support.traps import (
    CHECKS,
    COMMUNITY,
    POWER_FAIL,
    POWER_OK,
    PSU,
    ROUTER,
    TRAP_MARKS,
    body,
    events,
    snmptrap,
    status,
)

pytestmark = TRAP_MARKS


@pytest.fixture
def trap_port() -> int:
    return free_udp_port()


@pytest.fixture
async def app(tmp_path: Path, sink: HttpTarget, trap_port: int) -> AsyncIterator[App]:
    sink.requests.clear()
    async with running_app(tmp_path / "escalatord.db", body(trap_port, sink)) as running:
        yield running


class PysnmpSender:
    """pysnmp's send_notification on an event loop of its own (a thread): its start-up work
    never stalls the App's loop, and its engines (one per source address) are reused."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.engines: dict[str, Any] = {}

    async def send(
        self, port: int, oid: str, varbinds: tuple[tuple[str, str], ...], source: str, community
    ) -> None:
        job = self._send(port, oid, varbinds, source, community)
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(job, self.loop))

    async def _send(
        self, port: int, oid: str, varbinds: tuple[tuple[str, str], ...], source: str, community
    ) -> None:
        from pysnmp.hlapi.v3arch import asyncio as hlapi
        from pysnmp.proto.rfc1902 import ObjectIdentifier, OctetString

        engine = self.engines.setdefault(source, hlapi.SnmpEngine())
        target = await hlapi.UdpTransportTarget.create(("127.0.0.1", port))
        target.set_local_address((source, 0))
        binds = [
            hlapi.ObjectType(hlapi.ObjectIdentity("1.3.6.1.6.3.1.1.4.1.0"), ObjectIdentifier(oid)),
            *(hlapi.ObjectType(hlapi.ObjectIdentity(o), OctetString(v)) for o, v in varbinds),
        ]
        error, *_ = await hlapi.send_notification(
            engine, hlapi.CommunityData(community, mpModel=1), target, hlapi.ContextData(),
            "trap", *binds,
        )  # fmt: skip
        assert error is None, error

    def close(self) -> None:
        def shut() -> None:
            for engine in self.engines.values():
                engine.close_dispatcher()
            self.loop.stop()

        self.loop.call_soon_threadsafe(shut)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def sender() -> Iterator[PysnmpSender]:
    s = PysnmpSender()
    yield s
    s.close()


async def pysnmp_trap(
    sender: PysnmpSender,
    port: int,
    oid: str,
    *varbinds: tuple[str, str],
    source: str = ROUTER,
    community: str = COMMUNITY,
) -> None:
    """Send a v2c trap with pysnmp's send_notification from `source` (a loopback address)."""
    await sender.send(port, oid, varbinds, source, community)


async def metrics(app: App) -> dict[str, float]:
    """The daemon's /metrics as {"name{labels}": value}, read over HTTP."""
    async with httpx.AsyncClient(base_url=app.base_url, timeout=10) as client:  # type: ignore[attr-defined]
        text = (await client.get("/metrics")).text
    pairs = (line.rsplit(" ", 1) for line in text.splitlines() if line and line[0] != "#")
    return {name: float(value) for name, value in pairs}


async def metric_reaches(app: App, name: str, value: float) -> dict[str, float]:
    """Read /metrics until `name` reaches `value` (10 s at most); the last reading."""
    found = await metrics(app)
    for _ in range(200):
        if found.get(name, 0) >= value:
            break
        await asyncio.sleep(0.05)
        found = await metrics(app)
    return found


async def test_v2c_trap_opens_an_incident_and_the_clear_trap_resolves_it(
    app: App, sink: HttpTarget, trap_port: int, sender: PysnmpSender
):
    """A configured trap OID from the configured host (net-snmp, v2c) pages through the rules
    with the trap in the summary; the clear OID (pysnmp) resolves the incident."""
    await snmptrap(
        "-v", "2c", "-c", COMMUNITY, f"127.0.0.1:{trap_port}", "", POWER_FAIL,
        PSU, "s", "PSU 2 failed",
    )  # fmt: skip
    await eventually(lambda: bool(events(sink, "ups-power")), what="the page")
    ((event, summary),) = events(sink, "ups-power")
    assert event == "triggered"
    assert summary == f"{POWER_FAIL} trap from 127.0.0.1: {PSU}=PSU 2 failed"
    assert status(app, "ups-power") is Status.CRITICAL

    await pysnmp_trap(sender, trap_port, POWER_OK)
    await eventually(lambda: len(events(sink, "ups-power")) == 2, what="the resolution")
    cleared = ("resolved", f"cleared by {POWER_OK} trap from 127.0.0.1")
    assert events(sink, "ups-power")[1] == cleared
    found = await metrics(app)
    assert found["escalatord_traps_received_total"] == 2
    assert found["escalatord_traps_applied_total"] == 2


async def test_v1_traps_are_converted_and_clear_after_resolves(
    app: App, sink: HttpTarget, trap_port: int
):
    """An SNMPv1 enterprise-specific trap matches its v2 OID (RFC 3584), and a v1 coldStart
    opens a warning that clear_after resolves when no further coldStart comes."""
    v1 = ("-v", "1", "-c", COMMUNITY, f"127.0.0.1:{trap_port}")
    await snmptrap(*v1, "1.3.6.1.4.1.8072.9999", ROUTER, "6", "1", "")  # enterprise-specific 1
    await snmptrap(*v1, "1.3.6.1.4.1.8072", ROUTER, "0", "0", "")  # generic 0: coldStart
    await eventually(lambda: bool(events(sink, "ups-power")), what="the v1 enterprise trap")
    assert events(sink, "ups-power")[0][0] == "triggered"
    await eventually(lambda: len(events(sink, "router-reboot")) == 2, what="coldStart and clear")
    (opened, opened_summary), (resolved, resolved_summary) = events(sink, "router-reboot")
    assert (opened, resolved) == ("triggered", "resolved")
    assert opened_summary == "coldStart trap from 127.0.0.1"
    assert resolved_summary == "no matching trap for 300ms (clear_after)"
    assert sink.requests[0].json()["incident"]["severity"] is not None


async def test_wrong_community_is_dropped_and_counted(app: App, sink: HttpTarget, trap_port: int):
    """A trap with an unknown community changes nothing and is counted as dropped; the
    receiver keeps working for the next good trap."""
    await snmptrap("-v", "2c", "-c", "not-the-community", f"127.0.0.1:{trap_port}", "", POWER_FAIL)
    v1 = ("-v", "1", "-c", "nope", f"127.0.0.1:{trap_port}")
    await snmptrap(*v1, "1.3.6.1.4.1.8072.9999", ROUTER, "6", "1", "")
    found = await metric_reaches(app, 'escalatord_traps_dropped_total{reason="community"}', 2)
    assert found['escalatord_traps_dropped_total{reason="community"}'] == 2
    assert found["escalatord_traps_received_total"] == 0
    assert found["escalatord_traps_packets_total"] == 2
    assert status(app, "ups-power") is None and sink.requests == []

    await snmptrap("-v", "2c", "-c", COMMUNITY, f"127.0.0.1:{trap_port}", "", POWER_FAIL)
    await eventually(lambda: status(app, "ups-power") is Status.CRITICAL, what="the good trap")


async def test_trap_from_another_address_does_not_match(
    app: App, sink: HttpTarget, trap_port: int, sender: PysnmpSender
):
    """The configured OID from a different source address (net-snmp --clientaddr, pysnmp with
    a bound local address) is received but maps to no check."""
    await snmptrap(
        "-v", "2c", "-c", COMMUNITY, "--clientaddr=127.0.0.2", f"127.0.0.1:{trap_port}", "",
        POWER_FAIL,
    )  # fmt: skip
    await pysnmp_trap(sender, trap_port, POWER_FAIL, source="127.0.0.3")
    found = await metric_reaches(app, "escalatord_traps_unmatched_total", 2)
    assert found["escalatord_traps_unmatched_total"] == 2
    assert found["escalatord_traps_applied_total"] == 0
    assert status(app, "ups-power") is None and sink.requests == []


async def test_reload_applies_new_communities_and_checks(
    app: App, sink: HttpTarget, trap_port: int, tmp_path: Path, sender: PysnmpSender
):
    """A reload accepts the new community and maps traps to a check it added, at once; a new
    listen address is logged as needing a restart while the old socket keeps receiving."""
    added = f"""
        [[check]]
        name = "fan"
        type = "snmp_trap"
        host = "{ROUTER}"
        trap_oids = ["1.3.6.1.4.1.8072.9999.0.7"]
        clear_after = "1h"
    """
    text = body(free_udp_port(), sink, CHECKS + added, community="rotated-community")
    same = (app.config.daemon.database.removeprefix("sqlite:///"), app.config.daemon.listen_port)
    with capture_logs() as logs:
        await app.reload(load_text(config_text(Path(same[0]), same[1], text), env={}))
    assert [log["key"] for log in logs if log["event"] == "restart_needed"] == ["traps.listen"]
    # The old community is refused from now on, the new one accepted.
    await pysnmp_trap(sender, trap_port, "1.3.6.1.4.1.8072.9999.0.7", community=COMMUNITY)
    await pysnmp_trap(sender, trap_port, "1.3.6.1.4.1.8072.9999.0.7", community="rotated-community")
    await eventually(lambda: status(app, "fan") is Status.CRITICAL, what="the new check")
    assert app.traps is not None and app.traps.counts["dropped_community"] == 1


async def test_a_flood_does_not_stall_the_daemon(
    app: App, sink: HttpTarget, trap_port: int, sender: PysnmpSender
):
    """1,000 traps replayed as fast as a socket sends them: /healthz still answers during the
    storm, the traps are applied, and the clear trap after it resolves the incident."""
    # Capture one real snmptrap datagram, then replay it from a thread (not the App's loop).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as capture:
        capture.bind(("127.0.0.1", 0))
        capture.settimeout(10)
        await snmptrap(
            "-v", "2c", "-c", COMMUNITY, f"127.0.0.1:{capture.getsockname()[1]}", "", POWER_FAIL
        )  # fmt: skip
        datagram = capture.recv(65535)

    def flood() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            for _ in range(1000):
                out.sendto(datagram, ("127.0.0.1", trap_port))

    assert app.traps is not None
    counts = app.traps.counts
    flooder = threading.Thread(target=flood)
    flooder.start()
    # Health checks while the storm is worked off: each must answer well within a second
    # (a loop busy with the whole storm at once would take about that long per trap batch).
    answers = []
    async with httpx.AsyncClient(base_url=app.base_url, timeout=1.0) as client:  # type: ignore[attr-defined]
        for _ in range(5):
            answers.append(((await client.get("/healthz")).status_code, counts["received"]))
    await asyncio.to_thread(flooder.join)
    await eventually(lambda: status(app, "ups-power") is Status.CRITICAL, what="the storm")
    # The kernel may drop part of a storm it cannot buffer; what arrived is all handled.
    await eventually(lambda: counts["received"] == counts["applied"], what="every trap applied")
    await asyncio.sleep(0.2)  # nothing more arrives: the socket is drained
    stormed = counts["received"]
    assert stormed >= 100
    assert [code for code, _ in answers] == [200] * 5
    assert min(received for _, received in answers) < stormed  # answered during the storm
    await pysnmp_trap(sender, trap_port, POWER_OK)
    await eventually(lambda: status(app, "ups-power") is Status.OK, what="the clear after it")
    await eventually(lambda: len(events(sink, "ups-power")) == 2, what="the resolved page")
    assert [e for e, _ in events(sink, "ups-power")] == ["triggered", "resolved"]


async def test_a_taken_port_is_a_clear_startup_error(tmp_path: Path, sink: HttpTarget):
    """When the trap port is taken, start fails naming [traps] listen, and frees the API port."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        taken = holder.getsockname()[1]
        api_port = free_port()
        text = config_text(tmp_path / "escalatord.db", api_port, body(taken, sink))
        app = App(load_text(text, env={}))
        with pytest.raises(EscalatordError) as caught:
            await app.start()
    message = str(caught.value)
    assert f"cannot listen for SNMP traps on 127.0.0.1:{taken}" in message
    assert "Change [traps] listen" in message and "snmptrapd" in message
    with socket.socket() as again:  # the API's port was released
        again.bind(("127.0.0.1", api_port))
