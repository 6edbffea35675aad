"""The `snmp_interface` check against real agents on loopback: net-snmp's snmpd whose interface
table the test rewrites between polls (flips, renumbering, counters), and snmpsim serving a
recorded router. Checks share one CheckContext (one SNMP engine), as in the daemon.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from escalatord.checks.base import CheckContext, execute
from escalatord.checks.snmp.interface import SnmpInterfaceCheck
from escalatord.core.status import Result, Status
from tests.support.snmp_agent import (
    COMMUNITY,
    RECORDED_ROUTER,
    V3_AUTH_KEY,
    V3_PRIV_KEY,
    Iface,
    Snmpd,
    Snmpsim,
    free_udp_port,
    module_context,
    router_interfaces,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpd]:
    snmpd = Snmpd(tmp_path_factory.mktemp("snmpd")).start()
    try:
        yield snmpd
    finally:
        snmpd.stop()


@pytest.fixture
def router(agent: Snmpd) -> list[Iface]:
    """The default router's interfaces, served afresh; edit them and call agent.set_state()."""
    interfaces = router_interfaces()
    agent.set_state(interfaces)
    return interfaces


context = module_context()


def make(context: CheckContext, port: int, **keys: Any) -> SnmpInterfaceCheck:
    data = {"name": "if-test", "type": "snmp_interface", "host": "127.0.0.1", "port": port}
    if keys.get("version") != "3":
        data["community"] = keys.pop("community", COMMUNITY)
    data.update(keys)
    return SnmpInterfaceCheck(SnmpInterfaceCheck.Config.model_validate(data), context)


async def once(context: CheckContext, port: int, **keys: Any) -> Result:
    check = make(context, port, **keys)
    try:
        return await execute(check)
    finally:
        await check.close()


def by_name(interfaces: list[Iface], name: str) -> Iface:
    return next(i for i in interfaces if i.name == name)


FIRST = "up; first poll, rates from the next one"


@pytest.mark.parametrize(
    ("keys", "label"),
    [
        ({"interface": "ge-0/0/1"}, "ge-0/0/1 (ifIndex 3)"),
        ({"interface": "GigabitEthernet0/0/1"}, "GigabitEthernet0/0/1 (ifIndex 3)"),
        ({"interface": "uplink to core"}, "uplink to core (ifIndex 3)"),
        ({"interface": "Serial0/1/0", "match": "descr"}, "Serial0/1/0 (ifIndex 7)"),
        ({"if_index": 7}, "se-0/1/0 (ifIndex 7)"),
    ],
    ids=["ifName", "ifDescr", "ifAlias", "match-descr", "if_index"],
)
async def test_an_interface_is_found_by_name_descr_alias_or_index(
    context, agent, router, keys, label
):
    """Each way of naming an interface finds the same row; the check exposes the index."""
    check = make(context, agent.port, **keys)
    try:
        result = await execute(check)
        assert (result.status, result.summary) == (Status.OK, f"{label}: {FIRST}")
        assert check.if_index == int(label.split("ifIndex ")[1].rstrip(")"))
        assert check.host == "127.0.0.1"
    finally:
        await check.close()


async def test_match_limits_where_a_name_is_looked_for(context, agent, router):
    """With match = "name" an alias does not count; an unknown name lists similar ones."""
    result = await once(context, agent.port, interface="uplink to core", match="name")
    assert result.status is Status.UNKNOWN
    assert result.summary.startswith(
        f"no interface 'uplink to core' on 127.0.0.1:{agent.port} (searched ifName of 4 interfaces)"
    )
    typo = await once(context, agent.port, interface="ge-0/0/9")
    assert typo.status is Status.UNKNOWN
    assert typo.summary.endswith("interfaces); similar: ge-0/0/2, ge-0/0/1, se-0/1/0")


async def test_an_ambiguous_name_names_the_candidates(context, agent, router):
    """A name on two interfaces is unknown listing both; match = "name" settles it."""
    router.append(Iface(9, "ge-0/0/9", "GigabitEthernet0/0/9", alias="ge-0/0/1"))
    agent.set_state(router)
    result = await once(context, agent.port, interface="ge-0/0/1")
    assert result.status is Status.UNKNOWN
    assert result.summary == (
        f"interface 'ge-0/0/1' is ambiguous on 127.0.0.1:{agent.port}: ifIndex 3 (ifName), "
        'ifIndex 9 (ifAlias); narrow it with match = "name", "descr" or "alias", or set if_index'
    )
    narrowed = await once(context, agent.port, interface="ge-0/0/1", match="name")
    assert narrowed.summary == f"ge-0/0/1 (ifIndex 3): {FIRST}"


@pytest.mark.parametrize(
    ("admin", "oper", "status", "says"),
    [
        (1, 2, Status.CRITICAL, "down (admin up)"),
        (1, 7, Status.CRITICAL, "lowerLayerDown (admin up)"),
        (1, 6, Status.CRITICAL, "notPresent (admin up)"),
        (2, 2, Status.OK, "admin down"),
        (1, 3, Status.WARNING, "testing"),
        (1, 5, Status.OK, "dormant"),
        (1, 4, Status.UNKNOWN, "oper status unknown (the agent cannot tell)"),
    ],
)
async def test_status_follows_oper_and_admin_status(
    context, agent, router, admin, oper, status, says
):
    """Oper down with admin up is critical; admin down is ok with a note; the rest as documented."""
    uplink = by_name(router, "ge-0/0/1")
    uplink.admin, uplink.oper = admin, oper
    agent.set_state(router)
    result = await once(context, agent.port, interface="ge-0/0/1")
    assert (result.status, result.summary) == (status, f"ge-0/0/1 (ifIndex 3): {says}")
    assert result.measurements["oper_status"] == oper


async def test_a_flip_between_runs_is_seen_by_the_next_run(context, agent, router):
    """One check object sees the same interface go down and come back."""
    check = make(context, agent.port, interface="ge-0/0/1")
    uplink = by_name(router, "ge-0/0/1")
    try:
        seen = []
        for oper in (1, 2, 1):
            uplink.oper = oper
            agent.set_state(router)
            seen.append((await execute(check)).status)
        assert seen == [Status.OK, Status.CRITICAL, Status.OK]
    finally:
        await check.close()


async def test_a_renumbered_interface_is_resolved_again(context, agent, router):
    """When ifIndexes are swapped (a reboot), the name is re-resolved: the check reports its own
    interface (still up) at the new index, not the down interface now at the old one."""
    check = make(context, agent.port, interface="ge-0/0/1")
    try:
        assert (await execute(check)).status is Status.OK
        assert check.if_index == 3
        by_name(router, "ge-0/0/1").index, by_name(router, "ge-0/0/2").index = 4, 3
        agent.set_state(router)
        result = await execute(check)
        assert (result.status, check.if_index) == (Status.OK, 4)
        assert result.summary.startswith("ge-0/0/1 (ifIndex 4): up")
        by_name(router, "ge-0/0/1").index = 12
        agent.set_state(router)
        moved = await execute(check)
        assert (moved.status, check.if_index) == (Status.OK, 12)
    finally:
        await check.close()


async def test_utilisation_from_two_polls_of_64_bit_counters(context, agent, router):
    """Rates come from ifHC*Octets over sysUpTime's elapsed time; utilisation of the busier
    direction is judged against the percent ranges."""
    check = make(
        context,
        agent.port,
        interface="ge-0/0/1",
        utilisation_warning="50%",
        utilisation_critical="90%",
    )
    uplink = by_name(router, "ge-0/0/1")
    uplink.in_octets = uplink.out_octets = 7  # the 32-bit columns must not be used
    try:
        agent.set_state(router, uptime=100_000)
        first = await execute(check)
        assert first.summary == f"ge-0/0/1 (ifIndex 3): {FIRST}"
        uplink.hc_in = 4_500_000_000  # 600 Mb/s over 60 s
        uplink.hc_out = 750_000_000  # 100 Mb/s
        agent.set_state(router, uptime=106_000)
        second = await execute(check)
        assert second.status is Status.WARNING
        assert second.summary == (
            "ge-0/0/1 (ifIndex 3): up, utilisation 60% (warning: above 50) "
            "(in 600 Mb/s, out 100 Mb/s, 60% of 1 Gb/s, 0 errors/s)"
        )
        assert second.measurements["in_bps"] == 600e6
        assert second.measurements["utilisation_pct"] == 60.0
        uplink.hc_out += 7_125_000_000  # 950 Mb/s out
        agent.set_state(router, uptime=112_000)
        third = await execute(check)
        assert third.status is Status.CRITICAL
        assert "utilisation 95% (critical: above 90)" in third.summary
    finally:
        await check.close()


async def test_32_bit_counters_that_wrap_still_give_the_rate(context, agent, router):
    """An interface with only Counter32 octets that wrapped past 2^32 between polls."""
    check = make(context, agent.port, interface="se-0/1/0")
    wan = by_name(router, "se-0/1/0")
    wan.in_octets, wan.out_octets = 2**32 - 25_000, 2**32 - 1
    try:
        agent.set_state(router, uptime=50_000)
        await execute(check)
        wan.in_octets, wan.out_octets = 100_000, 49_999  # +125,000 and +50,000 bytes
        agent.set_state(router, uptime=51_000)  # 10 s later
        result = await execute(check)
        assert result.status is Status.OK
        assert result.summary == (
            "se-0/1/0 (ifIndex 7): up, in 100 kb/s, out 40 kb/s, 5% of 2 Mb/s, 0 errors/s"
        )
    finally:
        await check.close()


async def test_an_agent_restart_discards_the_counter_jump(context, agent, router):
    """sysUpTime going back means the counters started over: no rate for that poll, then
    rates again from the next."""
    check = make(context, agent.port, interface="ge-0/0/1", utilisation_critical="1")
    uplink = by_name(router, "ge-0/0/1")
    try:
        uplink.hc_in = uplink.hc_out = 9_000_000_000
        agent.set_state(router, uptime=900_000)
        await execute(check)
        uplink.hc_in = uplink.hc_out = 10_000
        agent.set_state(router, uptime=500)
        restarted = await execute(check)
        assert (restarted.status, restarted.summary) == (
            Status.OK,
            "ge-0/0/1 (ifIndex 3): up; no rates this poll: the agent restarted "
            "(sysUpTime went back), its counters start over",
        )
        uplink.hc_in += 12_500_000  # 10 Mb/s over 10 s: 1% of 1 Gb/s
        agent.set_state(router, uptime=1500)
        after = await execute(check)
        assert after.status is Status.OK and after.measurements["in_bps"] == 10e6
    finally:
        await check.close()


async def test_error_rate_thresholds(context, agent, router):
    """(in + out) errors per second past errors_critical is critical, saying the rate."""
    check = make(context, agent.port, interface="ge-0/0/1", errors_warning="1", errors_critical="5")
    uplink = by_name(router, "ge-0/0/1")
    try:
        agent.set_state(router, uptime=10_000)
        await execute(check)
        uplink.in_errors, uplink.out_errors = 400, 200  # 600 errors in 60 s
        agent.set_state(router, uptime=16_000)
        result = await execute(check)
        assert result.status is Status.CRITICAL
        assert "10 errors/s (critical: above 5)" in result.summary
        assert result.measurements["errors_per_s"] == 10.0
    finally:
        await check.close()


async def test_v1_and_v3_authpriv_find_and_poll(context, agent, router):
    """SNMPv1 (GETNEXT walk, 32-bit counters) and SNMPv3 authPriv (GETBULK walk) both work."""
    v1 = make(context, agent.port, version="1", interface="ge-0/0/1")
    v3 = make(
        context,
        agent.port,
        version="3",
        user="privuser",
        auth_key=V3_AUTH_KEY,
        priv_key=V3_PRIV_KEY,
        interface="boston office",
    )
    uplink = by_name(router, "ge-0/0/1")
    try:
        agent.set_state(router, uptime=1000)
        assert (await execute(v1)).summary == f"ge-0/0/1 (ifIndex 3): {FIRST}"
        uplink.in_octets, uplink.hc_in = 1_250_000, 999_999_999  # v1 sees only the 32-bit one
        agent.set_state(router, uptime=2000)
        assert (await execute(v1)).measurements["in_bps"] == 1e6
        result = await execute(v3)
        assert (result.status, result.summary) == (
            Status.CRITICAL,
            "boston office (ifIndex 4): down (admin up)",
        )
    finally:
        await v1.close()
        await v3.close()


async def test_an_interface_that_disappears_is_critical(context, agent, router):
    """Seen once and then gone from the table: critical, naming the index it had."""
    check = make(context, agent.port, interface="ge-0/0/1")
    try:
        assert (await execute(check)).status is Status.OK
        agent.set_state([i for i in router if i.name != "ge-0/0/1"])
        result = await execute(check)
        assert (result.status, result.summary) == (
            Status.CRITICAL,
            f"interface 'ge-0/0/1' (was ifIndex 3) is gone from 127.0.0.1:{agent.port}",
        )
    finally:
        await check.close()
    missing = await once(context, agent.port, if_index=99)
    assert (missing.status, missing.summary) == (
        Status.UNKNOWN,
        f"ifIndex 99 does not exist on 127.0.0.1:{agent.port}",
    )


async def test_an_agent_that_is_not_running_is_no_response(context):
    """A closed UDP port: critical "no response", before the check's own timeout."""
    port = free_udp_port()
    result = await once(
        context,
        port,
        interface="ge-0/0/1",
        timeout="2s",
        request_timeout="300ms",
        request_retries=1,
    )
    assert (result.status, result.summary) == (
        Status.CRITICAL,
        f"no response from 127.0.0.1:{port} after 2 tries (agent down or wrong community)",
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpsim]:
    sim = Snmpsim(tmp_path_factory.mktemp("snmpsim"), RECORDED_ROUTER).start()
    try:
        yield sim
    finally:
        sim.stop()


async def test_a_recorded_router_on_snmpsim(context, recorded):
    """snmpsim's recording: an interface found by its alias reads its 32-bit counters; an
    interface whose oper-status is SET down (writecache) turns critical and back."""
    wan = make(context, recorded.port, community=recorded.community, interface="mpls to hq")
    lan = make(context, recorded.port, community=recorded.community, interface="Gi0/2")
    try:
        assert (await execute(wan)).summary == f"mpls to hq (ifIndex 3): {FIRST}"
        second = await execute(wan)  # a recording does not move: 0 b/s
        assert second.summary.startswith("mpls to hq (ifIndex 3): up, in 0 b/s, out 0 b/s")
        assert "of 2 Mb/s" in second.summary
        assert (await execute(lan)).status is Status.OK
        recorded.set(".1.3.6.1.2.1.2.2.1.8.2", "i", "2")
        assert (await execute(lan)).summary == "Gi0/2 (ifIndex 2): down (admin up)"
        recorded.set(".1.3.6.1.2.1.2.2.1.8.2", "i", "1")
        assert (await execute(lan)).status is Status.OK
    finally:
        await wan.close()
        await lan.close()
