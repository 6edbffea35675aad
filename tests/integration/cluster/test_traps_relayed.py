"""A trap sent to any node of a cluster, two nodes as Apps in one loop on a throwaway
PostgreSQL: the node that receives a trap for a check another node owns keeps it in the store
(monitor/relayed.py), and the owner applies it at its next catch-up round and pages once."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest

from escalatord.app import App
from escalatord.core.status import Status
from tests.support.app import eventually, free_port, running_app
from tests.support.http_target import HttpTarget
from tests.support.traps import (
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
CHECK = "ups-power"
CHECKS = f"""
    [[check]]
    name = "{CHECK}"
    type = "snmp_trap"
    host = "{ROUTER}"
    trap_oids = ["{POWER_FAIL}"]
    clear_oids = ["{POWER_OK}"]
"""


@pytest.fixture
def database(pg_cluster) -> str:
    return pg_cluster.create_database()


@pytest.fixture
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


@contextlib.asynccontextmanager
async def two_nodes(database: str, sink: HttpTarget) -> AsyncIterator[list[tuple[App, int]]]:
    async with contextlib.AsyncExitStack() as stack:
        nodes = []
        for name in ("esc-a", "esc-b"):
            port = free_port()
            config = f'[cluster]\nnode = "{name}"\nfailover = "2s"\n' + body(port, sink, CHECKS)
            app = await stack.enter_async_context(running_app(database, config))
            nodes.append((app, port))

        def split() -> bool:
            owned = [app.monitor.owned or set() for app, _ in nodes]
            return sum(map(len, owned)) == 1 and set().union(*owned) == {CHECK}

        await eventually(split, what="one node owns the trap check")
        yield nodes


async def test_a_trap_sent_to_the_node_not_owning_its_check_is_judged_by_the_owner(database, sink):
    """The UPS's power-fail trap reaches the other node: the owner's check goes critical and
    the incident pages once; the receiving node counts it relayed, not applied."""
    async with two_nodes(database, sink) as nodes:
        [(owner, _)] = [(a, p) for a, p in nodes if CHECK in (a.monitor.owned or set())]
        [(other, port)] = [(a, p) for a, p in nodes if a is not owner]
        await snmptrap(
            "-v", "2c", "-c", COMMUNITY, f"127.0.0.1:{port}", "", POWER_FAIL,
            PSU, "s", "mains lost",
        )  # fmt: skip
        await eventually(lambda: status(owner, CHECK) is Status.CRITICAL, what="owner judged it")
        await eventually(lambda: events(sink, CHECK), what="the page")
        assert other.traps is not None and other.traps.counts["relayed"] == 1
        assert other.traps.counts["applied"] == 0
        assert [event for event, _ in events(sink, CHECK)] == ["triggered"]
