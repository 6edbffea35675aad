"""A satellite pushing to any node of a cluster, two nodes as Apps in one loop on a throwaway
PostgreSQL: results for checks another node owns are stored and applied by their owner at
their original time, and the owner of `satellite:<name>` judges silence from the batches
every node received."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from escalatord.app import App
from escalatord.core.status import Status
from escalatord.store.tables import incidents, satellite_results
from tests.support.app import eventually, page_everything, running_app
from tests.support.http_target import HttpTarget

TOKEN = "boston-satellite-token-0123456789"
OFFICE = [f"boston-{i}" for i in range(8)]
LINK = "satellite:boston"


def body(node: str, office: HttpTarget, sink: HttpTarget, silent_after: str) -> str:
    checks = "".join(
        f'[[check]]\nname = "{name}"\ntype = "http"\nurl = "{office.url("/" + name)}"\n'
        'interval = "2s"\nlabels = { site = "boston" }\n\n'
        for name in OFFICE
    )
    satellite = (
        f'[[satellite]]\nname = "boston"\nsites = ["boston"]\ntoken = "{TOKEN}"\n'
        f'silent_after = "{silent_after}"\nslack = "1s"\n\n'
    )
    cluster = f'[cluster]\nnode = "{node}"\nfailover = "2s"\n\n'
    return cluster + satellite + checks + page_everything(sink.url("/hook"))


@pytest.fixture
def database(pg_cluster) -> str:
    return pg_cluster.create_database()


@pytest.fixture
def office() -> Iterator[HttpTarget]:
    """What the office's checks point at: no node ever probes it."""
    with HttpTarget() as t:
        yield t


@pytest.fixture
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


@contextlib.asynccontextmanager
async def two_nodes(
    database: str, office: HttpTarget, sink: HttpTarget, silent_after: str = "1m"
) -> AsyncIterator[list[App]]:
    async with contextlib.AsyncExitStack() as stack:
        apps = [
            await stack.enter_async_context(
                running_app(database, body(n, office, sink, silent_after))
            )
            for n in ("esc-a", "esc-b")
        ]
        every = {LINK, *OFFICE}

        def split() -> bool:
            owned = [a.monitor.owned or set() for a in apps]
            return sum(map(len, owned)) == len(every) and set().union(*owned) == every

        await eventually(split, what="the checks split between both nodes")
        yield apps


def owner_of(apps: list[App], check: str) -> tuple[App, App]:
    """(the node owning `check`, the other one)."""
    a, b = apps
    return (a, b) if check in (a.monitor.owned or ()) else (b, a)


async def post(app: App, items: list[dict]) -> dict:
    async with httpx.AsyncClient(base_url=app.base_url, timeout=10) as client:  # type: ignore[attr-defined]
        reply = await client.post(
            "/api/v1/satellites/boston/results",
            json={"results": items},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert reply.status_code == 200, reply.text
    return reply.json()


def result(check: str, status: str, at: datetime) -> dict:
    return {
        "check": check,
        "status": status,
        "summary": f"{status} at the office",
        "at": at.isoformat(),
    }


def pages(sink: HttpTarget, check: str) -> list[str]:
    return [r.json()["event"] for r in sink.requests if r.path == "/hook"
            and r.json()["incident"]["check"] == check]  # fmt: skip


async def open_incidents(app: App, check: str) -> list[str]:
    async with app.store.read() as conn:
        rows = await conn.execute(
            select(incidents.c.title).where(
                incidents.c.check == check, incidents.c.status != "resolved"
            )
        )
        return list(rows.scalars())


async def held(app: App) -> int:
    """How many relayed results wait in the store for their owner."""
    async with app.store.read() as conn:
        return len((await conn.execute(select(satellite_results.c.id))).all())


async def test_a_batch_posted_to_the_node_not_owning_a_check_is_applied_by_its_owner(
    database, office, sink
):
    """The receiving node answers "relayed" and leaves the check alone; the owner applies the
    results in time order at their original times, and the failure pages once."""
    async with two_nodes(database, office, sink) as apps:
        owner, other = owner_of(apps, "boston-0")
        now = datetime.now(UTC).replace(microsecond=0)
        first, second = now - timedelta(seconds=1), now
        # Sent newest first: the owner still applies them in the order they were taken.
        reply = await post(other, [result("boston-0", "critical", second),
                                   result("boston-0", "ok", first)])  # fmt: skip
        assert reply["relayed"] == 2 and reply["refused"] == 0, reply
        assert [r["outcome"] for r in reply["results"]] == ["relayed", "relayed"]
        await eventually(
            lambda: (
                owner.monitor.states.get("boston-0") is not None
                and owner.monitor.states["boston-0"].last_check_at == second
            ),
            what="the owner applying the relayed results",
        )
        state = owner.monitor.states["boston-0"]
        assert state.status is Status.CRITICAL and state.hard  # retries = 1
        assert state.flap_history.endswith("oc")  # both applied, the older one first
        assert other.monitor.states.get("boston-0") is None or (
            other.monitor.states["boston-0"].last_check_at != second
        )
        await eventually(lambda: pages(sink, "boston-0") == ["triggered"], what="one page")
        again = await post(other, [result("boston-0", "ok", first)])
        assert again["results"][0]["outcome"] == "relayed"  # the owner decides it is too old
        for _ in range(500):  # until the owner has claimed it
            if not await held(owner):
                break
            await asyncio.sleep(0.02)
        assert not await held(owner)
        state = owner.monitor.states["boston-0"]
        assert state.last_check_at == second and state.status is Status.CRITICAL  # superseded
    assert office.requests == [], "no node probes a satellite's checks"


async def test_a_satellite_pushing_only_to_the_other_node_is_not_silent_until_it_stops(
    database, office, sink
):
    """While batches arrive at the node not owning `satellite:boston` its owner keeps the link
    ok, long past silent_after; once they stop the owner opens one incident and pages once."""
    async with two_nodes(database, office, sink, silent_after="2s") as apps:
        owner, other = owner_of(apps, LINK)
        pushed = 0
        started = datetime.now(UTC)
        # Push every 300 ms for three silent_after periods (2 s each).
        while datetime.now(UTC) - started < timedelta(seconds=6):
            now = datetime.now(UTC)
            reply = await post(other, [result(name, "ok", now) for name in OFFICE])
            assert reply["refused"] == 0, reply
            pushed += 1
            await asyncio.sleep(0.3)
        link = owner.monitor.states.get(LINK)
        assert pushed > 10
        assert link is not None and link.status is Status.OK, link
        assert await open_incidents(owner, LINK) == []
        assert pages(sink, LINK) == []
        assert all(
            owner.monitor.states[n].status is Status.OK
            for n in OFFICE
            if n in (owner.monitor.owned or ()) and n in owner.monitor.states
        )
        # The satellite stops: the owner judges it silent from the stored arrivals.
        await eventually(lambda: pages(sink, LINK) == ["triggered"], what="the silence paged")
        titles = await open_incidents(owner, LINK)
        assert len(titles) == 1 and titles[0].startswith("boston satellite silent"), titles
        assert owner.monitor.states[LINK].status is Status.CRITICAL
