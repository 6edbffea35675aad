"""What the SNMP trap tests share: the traps config (a made-up UPS and a router on loopback),
sending traps with net-snmp's snmptrap (IF-MIB linkDown/linkUp among them), and reading what
the App made of them."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from escalatord.app import App
from escalatord.core.status import Status
from tests.support import programs
from tests.support.app import page_everything
from tests.support.http_target import HttpTarget
from tests.support.snmp_agent import Iface, router_interfaces

# The marks of every module that sends traps: `pytestmark = TRAP_MARKS`.
TRAP_MARKS = [
    programs.needs("snmptrap"),
    # pysnmp warns about pysmi 2's renamed functions while loading MIBs for the test sender.
    pytest.mark.filterwarnings("ignore:.*is deprecated:DeprecationWarning"),
]

COMMUNITY = "trap-community-7"
POWER_FAIL = "1.3.6.1.4.1.8072.9999.0.1"  # enterprise-specific traps of a made-up UPS
POWER_OK = "1.3.6.1.4.1.8072.9999.0.2"
PSU = "1.3.6.1.4.1.8072.9999.1"
ROUTER = "127.0.0.1"

CHECKS = f"""
    [[check]]
    name = "ups-power"
    type = "snmp_trap"
    host = "{ROUTER}"
    trap_oids = ["{POWER_FAIL}"]
    clear_oids = ["{POWER_OK}"]
    labels = {{ site = "hq" }}

    [[check]]
    name = "router-reboot"
    type = "snmp_trap"
    host = "{ROUTER}"
    trap_oids = ["SNMPv2-MIB::coldStart"]
    status = "warning"
    clear_after = "300ms"
    interval = "100ms"
"""


def body(trap_port: int, sink: HttpTarget, checks: str = CHECKS, community: str = COMMUNITY):
    return f"""
        [traps]
        listen = "127.0.0.1:{trap_port}"
        communities = ["{community}"]
        {checks}
        {page_everything(sink.url("/hook"))}
    """


async def snmptrap(*args: str) -> None:
    """Run net-snmp's snmptrap; fail the test if it fails."""
    proc = await asyncio.create_subprocess_exec(
        "snmptrap", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, (out + err).decode()


def events(sink: HttpTarget, check: str) -> list[tuple[str, str]]:
    """(event, summary) of every webhook the sink got for `check`, in order."""
    out = []
    for request in sink.requests:
        payload = request.json()
        if payload["incident"]["check"] == check:
            out.append((payload["event"], payload["incident"]["summary"]))
    return out


def status(app: App, check: str) -> Status | None:
    state = app.monitor.states.get(check)
    return state.status if state else None


LINK_DOWN, LINK_UP, IF_INDEX = "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4", "1.3.6.1.2.1.2.2.1.1"


def with_oper(oper: int) -> list[Iface]:
    """The test router with ge-0/0/1 (ifIndex 3) in oper status `oper`."""
    return [replace(i, oper=oper) if i.index == 3 else i for i in router_interfaces()]


async def link_trap(port: int, oid: str, index: int, source: str = ROUTER) -> None:
    """An IF-MIB linkDown/linkUp from net-snmp's snmptrap, as a switch sends it."""
    oper = "2" if oid == LINK_DOWN else "1"
    await snmptrap(
        "-v", "2c", "-c", COMMUNITY, f"--clientaddr={source}", f"127.0.0.1:{port}", "", oid,
        f"{IF_INDEX}.{index}", "i", str(index),
        f"1.3.6.1.2.1.2.2.1.7.{index}", "i", "1",
        f"1.3.6.1.2.1.2.2.1.8.{index}", "i", oper,
    )  # fmt: skip
