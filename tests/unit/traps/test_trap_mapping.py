"""Trap → check results, without sockets: matching, linkDown/linkUp, summaries, clear_after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from escalatord.checks.base import CheckContext
from escalatord.core.state import CheckState
from escalatord.core.status import Status
from escalatord.traps.check import SnmpTrapCheck, SnmpTrapConfig, clear_due
from escalatord.traps.mapping import (
    LINK_DOWN,
    LINK_UP,
    SNMP_TRAP_ADDRESS,
    SNMP_TRAP_COMMUNITY,
    SNMP_TRAP_OID,
    SYS_UPTIME,
    Interface,
    Trap,
    decode,
    describe,
    if_index,
    route,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ROUTER = "127.0.0.1"
OTHER = "127.0.0.2"
POWER_FAIL = "1.3.6.1.4.1.8072.9999.0.1"
POWER_OK = "1.3.6.1.4.1.8072.9999.0.2"
PSU = "1.3.6.1.4.1.8072.9999.1"


def trap_config(**keys: Any) -> SnmpTrapConfig:
    data = {
        "name": "power",
        "type": "snmp_trap",
        "host": ROUTER,
        "trap_oids": [POWER_FAIL],
        "clear_oids": [POWER_OK],
        "interval": "30s",
        **keys,
    }
    return SnmpTrapConfig.model_validate(data)


def interface(name: str = "uplink", index: int | None = 3, host: str = ROUTER) -> Interface:
    return Interface(name, frozenset({host}), index, retry_interval=timedelta(seconds=15))


def link(oid: str, index: int = 3, source: str = ROUTER) -> Trap:
    """A linkDown/linkUp as IF-MIB sends it: ifIndex, ifAdminStatus, ifOperStatus."""
    varbinds = (
        (f"1.3.6.1.2.1.2.2.1.1.{index}", str(index)),
        (f"1.3.6.1.2.1.2.2.1.7.{index}", "1"),
        (f"1.3.6.1.2.1.2.2.1.8.{index}", "2" if oid == LINK_DOWN else "1"),
    )
    return Trap(source, oid, varbinds)


def test_decode_takes_the_trap_oid_and_keeps_the_other_varbinds():
    """A v2c trap's snmpTrapOID.0 is its OID; sysUpTime and snmpTrapOID are not kept."""
    trap = decode(
        "::ffff:127.0.0.1",
        [(SYS_UPTIME, "123"), (SNMP_TRAP_OID, POWER_FAIL), (PSU, "PSU 2 failed")],
    )
    assert trap == Trap(ROUTER, POWER_FAIL, ((PSU, "PSU 2 failed"),))


def test_decode_keeps_a_v1_agent_address_only_when_it_differs():
    """A v1 trap's agent-addr (snmpTrapAddress.0) is a second source when it is another host."""
    relayed = decode(OTHER, [(SNMP_TRAP_OID, POWER_FAIL), (SNMP_TRAP_ADDRESS, ROUTER)])
    assert relayed is not None and relayed.sources == (OTHER, ROUTER)
    direct = decode(ROUTER, [(SNMP_TRAP_OID, POWER_FAIL), (SNMP_TRAP_ADDRESS, ROUTER)])
    assert direct is not None and direct.agent is None


def test_decode_refuses_what_is_not_a_notification():
    """No snmpTrapOID.0, or a sender that is no IP address: not a trap."""
    assert decode(ROUTER, [(SYS_UPTIME, "1")]) is None
    assert decode("not-an-address", [(SNMP_TRAP_OID, POWER_FAIL)]) is None


def test_configured_trap_sets_the_configured_status_at_once():
    """A listed trap OID from the check's host gives its status, with params that make it hard
    on this one result and keep the check's interval."""
    config = trap_config(status="warning")
    (feed,) = route(Trap(ROUTER, POWER_FAIL, ((PSU, "PSU 2 failed"),)), [config], [], NOW)
    assert feed.check == "power"
    assert feed.result.status is Status.WARNING
    assert feed.result.summary == f"{POWER_FAIL} trap from {ROUTER}: {PSU}=PSU 2 failed"
    assert feed.result.at == NOW
    assert (feed.params.retries, feed.params.recover_after) == (1, 1)
    assert feed.params.interval == feed.params.retry_interval == timedelta(seconds=30)


def test_clear_trap_sets_ok():
    """A clear_oids trap from the host gives ok, saying which trap cleared it."""
    (feed,) = route(Trap(ROUTER, POWER_OK), [trap_config()], [], NOW)
    assert feed.result.status is Status.OK
    assert feed.result.summary == f"cleared by {POWER_OK} trap from {ROUTER}"


def test_other_source_or_other_oid_does_not_match():
    """The same OID from another host, or another OID from the host, feeds nothing."""
    assert route(Trap(OTHER, POWER_FAIL), [trap_config()], [], NOW) == []
    assert route(Trap(ROUTER, "1.3.6.1.4.1.8072.9999.0.3"), [trap_config()], [], NOW) == []


def test_v1_agent_address_matches_the_host():
    """A v1 trap relayed by another box matches the device named in its agent-addr."""
    relayed = Trap(OTHER, POWER_FAIL, agent=ROUTER)
    (feed,) = route(relayed, [trap_config()], [], NOW)
    assert feed.result.summary.startswith(f"{POWER_FAIL} trap from {OTHER} (agent {ROUTER})")


@pytest.mark.parametrize(
    ("varbinds", "matches"),
    [
        (((PSU + ".2", "failed"),), True),  # under the key's OID
        (((PSU, "failed"),), True),  # the key's OID itself
        (((PSU + ".2", "ok"),), False),  # another value
        ((("1.3.6.1.4.1.8072.99991", "failed"),), False),  # a sibling, not under it
        ((), False),  # missing
    ],
)
def test_match_varbinds(varbinds: tuple[tuple[str, str], ...], matches: bool):
    """match_varbinds needs a varbind at or under each OID with exactly that value."""
    config = trap_config(match_varbinds={PSU: "failed"})
    assert bool(route(Trap(ROUTER, POWER_FAIL, varbinds), [config], [], NOW)) is matches


def test_link_down_sets_the_interface_check_critical_and_link_up_ok():
    """linkDown for the check's ifIndex from its host is critical at once, linkUp ok; the next
    poll comes after the check's retry_interval to confirm it."""
    (down,) = route(link(LINK_DOWN), [], [interface()], NOW)
    assert down.check == "uplink"
    assert down.result.status is Status.CRITICAL
    assert down.result.summary == f"linkDown trap from {ROUTER} (ifIndex 3)"
    assert (down.params.retries, down.params.recover_after) == (1, 1)
    assert down.params.interval == timedelta(seconds=15)
    (up,) = route(link(LINK_UP), [], [interface()], NOW)
    assert up.result.status is Status.OK
    assert up.result.summary == f"linkUp trap from {ROUTER} (ifIndex 3)"


def test_link_traps_select_by_if_index_and_host():
    """Of several interfaces only the one with the trap's ifIndex on the trap's host is fed;
    an interface whose ifIndex is not known yet is never fed."""
    checks = [interface("gi1", 1), interface("gi3", 3), interface("peer-gi3", 3, OTHER)]
    assert [f.check for f in route(link(LINK_DOWN), [], checks, NOW)] == ["gi3"]
    assert route(link(LINK_DOWN), [], [interface(index=None)], NOW) == []
    assert route(link(LINK_DOWN, source=OTHER), [], [interface("gi3", 3)], NOW) == []


def test_link_trap_feeds_an_interface_and_a_trap_check_listing_it():
    """A trap check that lists linkDown and the interface check are both fed."""
    config = trap_config(name="any-link", trap_oids=["IF-MIB::linkDown"], clear_after="5m")
    feeds = route(link(LINK_DOWN), [config], [interface()], NOW)
    assert [(f.check, f.result.status) for f in feeds] == [
        ("any-link", Status.CRITICAL),
        ("uplink", Status.CRITICAL),
    ]
    assert feeds[0].result.summary.startswith(f"linkDown trap from {ROUTER}: ")


def test_if_index_from_the_oid_or_the_value():
    """ifIndex.N gives N; a bare ifIndex varbind gives its value; none gives None."""
    assert if_index(link(LINK_DOWN, 12)) == 12
    assert if_index(Trap(ROUTER, LINK_DOWN, (("1.3.6.1.2.1.2.2.1.1.x", "7"),))) == 7
    assert if_index(Trap(ROUTER, LINK_DOWN)) is None


def test_summary_hides_the_community_and_tames_values():
    """A v1 trap's community never reaches a summary; values lose control characters and are
    cut; only the first varbinds are listed."""
    varbinds = (
        (SNMP_TRAP_COMMUNITY, "trap-secret"),
        (PSU + ".1", "line\none\x07"),
        (PSU + ".2", "x" * 200),
        *((f"{PSU}.{n}", str(n)) for n in range(3, 8)),
    )
    text = describe(Trap(ROUTER, POWER_FAIL, varbinds))
    assert "trap-secret" not in text
    assert f"{PSU}.1=line one," in text
    assert f"{PSU}.2={'x' * 60}…" in text
    assert text.endswith("(+3 more)")


def test_clear_after_is_due_only_once_the_time_has_passed():
    """clear_after gives ok when it has passed since the last problem trap, and not before."""
    config = trap_config(clear_oids=[], clear_after="10m")
    set_at = NOW - timedelta(minutes=10)
    assert clear_due(config, None, NOW) is None
    assert clear_due(config, set_at + timedelta(seconds=1), NOW) is None
    result = clear_due(config, set_at, NOW)
    assert result is not None and result.status is Status.OK
    assert result.summary == "no matching trap for 10m (clear_after)"
    assert clear_due(trap_config(), set_at, NOW) is None  # clear_oids only: never by time


async def test_trap_check_clears_on_schedule_once():
    """The check remembers its last problem trap and gives one ok after clear_after; a problem
    found in the stored state after a restart counts from its last result."""
    check = SnmpTrapCheck(trap_config(clear_oids=[], clear_after="10m"), CheckContext())
    stored = CheckState(status=Status.CRITICAL, last_check_at=NOW - timedelta(minutes=11))
    check.resume(stored, NOW)
    fed = (await check.evaluate(None, NOW)).fed  # type: ignore[arg-type]
    assert fed is not None and fed[0].status is Status.OK and fed[1].retries == 1
    assert (await check.evaluate(None, NOW + timedelta(hours=1))).fed is None  # already cleared
    (feed,) = route(Trap(ROUTER, POWER_FAIL), [check.config], [], NOW)
    check.noted(feed.result)
    assert (await check.evaluate(None, NOW + timedelta(minutes=9))).fed is None
    assert (await check.evaluate(None, NOW + timedelta(minutes=10))).fed is not None


def test_link_down_of_an_admin_down_interface_is_ok_as_its_poll_says():
    """An operator shutting a port makes the switch send linkDown with ifAdminStatus down: the
    check reads ok ("admin down", as its poll would), nobody is paged for the shutdown."""
    shut = Trap(
        ROUTER,
        LINK_DOWN,
        (
            ("1.3.6.1.2.1.2.2.1.1.3", "3"),
            ("1.3.6.1.2.1.2.2.1.7.3", "2"),
            ("1.3.6.1.2.1.2.2.1.8.3", "2"),
        ),
    )
    (feed,) = route(shut, [], [interface()], NOW)
    assert feed.result.status is Status.OK
    assert feed.result.summary == f"linkDown trap from {ROUTER} (ifIndex 3): admin down"
    (failed,) = route(link(LINK_DOWN), [], [interface()], NOW)  # admin up: a real failure
    assert failed.result.status is Status.CRITICAL


def test_an_odd_if_index_value_is_no_index_not_a_crash():
    """A sender's ifIndex value that Python calls a digit but int() refuses ("²") maps to no
    interface instead of raising while the trap is handled."""
    odd = Trap(ROUTER, LINK_DOWN, (("1.3.6.1.2.1.2.2.1.1.x", "²"),))
    assert if_index(odd) is None
    assert route(odd, [], [interface()], NOW) == []
