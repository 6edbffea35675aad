"""IF-MIB linkDown/linkUp traps (net-snmp's snmptrap) into a running App on loopback: they
set the snmp_interface checks of the interface they name at once, against net-snmp's snmpd."""

from __future__ import annotations

from pathlib import Path

from escalatord.core.status import Status
from tests.support.app import eventually, running_app
from tests.support.http_target import HttpTarget
from tests.support.snmp_agent import Snmpd, free_udp_port
from tests.support.traps import (
    LINK_DOWN,
    LINK_UP,
    TRAP_MARKS,
    body,
    events,
    link_trap,
    status,
    with_oper,
)

pytestmark = TRAP_MARKS


async def test_link_down_and_up_set_an_interface_check_at_once(
    tmp_path: Path, sink: HttpTarget, agent: Snmpd
):
    """linkDown for the ifIndex an snmp_interface check resolved its name to makes it critical
    at once (an incident, paged), linkUp makes it ok (resolved); a linkDown for another ifIndex
    or from another address changes nothing; the check's next poll corrects a trap the agent
    contradicts; a check whose host is a name is matched by the name's address."""
    sink.requests.clear()
    trap_port = free_udp_port()
    checks = f"""
        [[check]]
        name = "uplink"
        type = "snmp_interface"
        host = "127.0.0.1"
        port = {agent.port}
        community = "public"
        interface = "ge-0/0/1"
        interval = "1h"          # no scheduled poll during the test: it polls when told to
        retry_interval = "1h"
        retries = 3              # a poll alone would need three failures; a trap needs one

        [[check]]
        name = "boston-port"
        type = "snmp_interface"
        host = "localhost"       # resolved by the receiver to 127.0.0.1 (and ::1)
        port = {agent.port}
        community = "public"
        if_index = 4
        interval = "1h"
        retries = 3
    """
    async with running_app(tmp_path / "escalatord.db", body(trap_port, sink, checks)) as app:
        await app.monitor.run_check("uplink")  # the first poll resolves ge-0/0/1 to ifIndex 3
        assert status(app, "uplink") is Status.OK
        assert app.monitor.checks["uplink"].if_index == 3  # type: ignore[attr-defined]

        agent.set_state(with_oper(2))
        await link_trap(trap_port, LINK_DOWN, 7)  # an interface nobody checks: nothing to do
        await link_trap(trap_port, LINK_DOWN, 3, source="127.0.0.2")  # another device
        await link_trap(trap_port, LINK_DOWN, 3)
        await eventually(lambda: bool(events(sink, "uplink")), what="the linkDown page")
        assert events(sink, "uplink") == [("triggered", "linkDown trap from 127.0.0.1 (ifIndex 3)")]
        assert app.traps is not None and app.traps.counts["unmatched"] == 2
        await link_trap(trap_port, LINK_DOWN, 4)
        await eventually(lambda: status(app, "boston-port") is Status.CRITICAL, what="by name")
        await app.monitor.run_check("uplink")  # the poll confirms: still critical, no change
        assert status(app, "uplink") is Status.CRITICAL
        assert "down (admin up)" in app.monitor.states["uplink"].last_summary

        agent.set_state(with_oper(1))
        await link_trap(trap_port, LINK_UP, 3)
        await eventually(lambda: len(events(sink, "uplink")) == 2, what="the linkUp resolution")
        assert events(sink, "uplink")[1] == ("resolved", "linkUp trap from 127.0.0.1 (ifIndex 3)")

        # A linkDown the agent contradicts (the port is up): critical now, corrected by the poll.
        await link_trap(trap_port, LINK_DOWN, 3)
        await eventually(lambda: status(app, "uplink") is Status.CRITICAL, what="linkDown again")
        await app.monitor.run_check("uplink")
        assert status(app, "uplink") is Status.OK


async def test_link_traps_reach_every_interface_check_of_a_device_given_by_name(
    tmp_path: Path, sink: HttpTarget, agent: Snmpd
):
    """Two interface checks on one switch configured by host name (the usual case: one switch,
    several ports): a linkDown for each port makes each check critical, not only the last one
    the receiver looked up."""
    sink.requests.clear()
    trap_port = free_udp_port()
    checks = "".join(
        f"""
        [[check]]
        name = "{name}"
        type = "snmp_interface"
        host = "localhost"
        port = {agent.port}
        community = "public"
        if_index = {index}
        interval = "1h"
        retries = 3
        """
        for name, index in (("port-3", 3), ("port-4", 4))
    )
    async with running_app(tmp_path / "escalatord.db", body(trap_port, sink, checks)) as app:
        assert app.traps is not None and app.traps._resolving is not None
        await app.traps._resolving  # the receiver's look-up of "localhost"
        await link_trap(trap_port, LINK_DOWN, 3)
        await link_trap(trap_port, LINK_DOWN, 4)
        await eventually(
            lambda: app.traps is not None and app.traps.counts["received"] == 2,
            what="both traps",
        )
        await eventually(lambda: status(app, "port-4") is Status.CRITICAL, what="port 4")
        await eventually(lambda: status(app, "port-3") is Status.CRITICAL, what="port 3")
        assert app.traps.counts["unmatched"] == 0
