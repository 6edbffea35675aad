"""Nodes of a cluster as Apps in one loop on a throwaway PostgreSQL: the checks split between
them, a node whose renewals fail fences itself before its lease lapses, the other takes its
checks (with their stored states) and its outbox claims, and a clean stop gives the lease up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert, select

from escalatord.app import App
from escalatord.config.loader import load_text
from escalatord.core.status import Status
from escalatord.store import nodes as node_rows
from escalatord.store.tables import outbox
from tests.support.app import config_text, eventually, page_everything, running_app
from tests.support.http_target import HttpTarget

CHECKS = [f"svc-{i}" for i in range(12)]


def body(node: str, target: HttpTarget) -> str:
    checks = "".join(
        f'[[check]]\nname = "{name}"\ntype = "http"\nurl = "{target.url("/" + name)}"\n'
        'interval = "300ms"\n\n'
        for name in CHECKS
    )
    return f'[cluster]\nnode = "{node}"\nfailover = "2s"\n\n' + checks


@pytest.fixture
def database(pg_cluster) -> str:
    return pg_cluster.create_database()


@pytest.fixture
def target():
    with HttpTarget() as t:
        yield t


@contextlib.asynccontextmanager
async def nodes(database: str, target: HttpTarget, *names: str) -> AsyncIterator[list[App]]:
    async with contextlib.AsyncExitStack() as stack:
        apps = [
            await stack.enter_async_context(running_app(database, body(n, target))) for n in names
        ]
        yield apps


def split(apps: list[App]) -> bool:
    owned = [a.monitor.owned or set() for a in apps]
    return sum(map(len, owned)) == len(CHECKS) and set().union(*owned) == set(CHECKS)


async def rows(app: App) -> tuple[datetime, list[node_rows.NodeRow]]:
    async with app.store.read() as conn:
        return await node_rows.read(conn)


async def test_two_nodes_run_each_check_on_exactly_one_of_them(database, target):
    """Two nodes agree on the live nodes and share the checks with no check on both."""
    async with nodes(database, target, "esc-a", "esc-b") as (a, b):
        both = ["esc-a", "esc-b"]
        await eventually(
            lambda: split([a, b]) and a.cluster.live == b.cluster.live == both,
            what="the checks split between both nodes",
        )
        assert not (a.monitor.owned or set()) & (b.monitor.owned or set())
        assert set(a.monitor.scheduler._jobs) == a.monitor.owned  # runs only its own
        now, found = await rows(a)
        assert [r.name for r in found if r.live(now)] == ["esc-a", "esc-b"]
        assert found[0].config_hash == found[1].config_hash is not None


async def test_a_node_cut_off_fences_before_its_lease_lapses_and_the_other_takes_over(
    database, target
):
    """Renewals failing: the node stops (no jobs, engine and dispatcher idle) while its lease
    still holds in the database; once it lapses the other node runs every check and takes
    back the outbox rows the cut-off node had claimed."""
    async with nodes(database, target, "esc-a", "esc-b") as (a, b):
        await eventually(lambda: split([a, b]), what="the checks split")
        async with b.store.write() as conn:  # a page b was sending when it was cut off
            now = datetime.now(UTC)
            await conn.execute(insert(outbox).values(
                key="k1", notifier="none", event="triggered", level=0, payload={},
                status="pending", attempts=0, created_at=now,
                next_attempt_at=now + timedelta(hours=1), claimed_by=b.watch.instance,
            ))  # fmt: skip

        async def unreachable() -> bool:
            return False

        b.watch.beat = unreachable  # type: ignore[method-assign]
        await eventually(lambda: b.cluster.fenced, what="b fenced")
        db_now, found = await rows(a)
        assert next(r for r in found if r.name == "esc-b").live(db_now)  # its lease holds yet
        assert b.monitor.owned == set() and not b.monitor.scheduler._jobs
        assert not b.engine.active() and not b.dispatcher.active()
        await eventually(lambda: a.monitor.owned == set(CHECKS), what="a runs every check")

        async def claimed() -> str | None:
            async with a.store.read() as conn:
                stmt = select(outbox.c.claimed_by).where(outbox.c.key == "k1")
                return (await conn.execute(stmt)).scalar()

        for _ in range(500):  # taken back: due now, for a live node to send
            if await claimed() != b.watch.instance:
                break
            await asyncio.sleep(0.02)
        assert await claimed() != b.watch.instance


async def test_a_check_taken_over_starts_from_its_stored_state(database, target):
    """The node taking a check over loads its state from the store first: a failing check's
    hard state written by its old owner is what the new owner holds."""
    target.respond(500, "down", path="/svc-0")
    async with nodes(database, target, "esc-a", "esc-b") as (a, b):
        await eventually(lambda: split([a, b]), what="the checks split")
        old, new = (a, b) if "svc-0" in (a.monitor.owned or ()) else (b, a)

        def hard_critical() -> bool:
            state = old.monitor.states.get("svc-0")
            return state is not None and state.status.value == "critical" and state.hard

        await eventually(hard_critical, what="svc-0 hard critical")
        await old.monitor.flush()

        async def unreachable() -> bool:
            return False

        old.watch.beat = unreachable  # type: ignore[method-assign]
        await eventually(lambda: "svc-0" in (new.monitor.owned or ()), what="svc-0 moved")
        state = new.monitor.states["svc-0"]
        assert state.status.value == "critical" and state.hard


async def test_a_clean_stop_gives_the_lease_up_at_once(database, target):
    """A node stopped gracefully leaves its row without a lease: the other takes all its checks
    without waiting for the lease to lapse."""
    async with running_app(database, body("esc-a", target)) as a:
        async with running_app(database, body("esc-b", target)) as b:
            await eventually(lambda: split([a, b]), what="the checks split")
        _, found = await rows(a)
        assert next(r for r in found if r.name == "esc-b").lease_until is None
        await eventually(lambda: a.monitor.owned == set(CHECKS), within=1.0, what="a runs all")


async def test_a_heartbeat_pinged_at_a_node_that_does_not_own_it_is_judged_by_the_owner(
    database, target
):
    """A /fail sent to the other node is stored there and judged once by the owner, which
    pages it; a later success ping to the other node recovers it on the owner."""
    token = "cluster-heartbeat-token-0123"
    beat = (
        f'[[check]]\nname = "nightly"\ntype = "heartbeat"\nevery = "1h"\ngrace = "1h"\n'
        f'token = "{token}"\n\n' + page_everything(target.url("/hook"))
    )
    async with contextlib.AsyncExitStack() as stack:
        a, b = [
            await stack.enter_async_context(running_app(database, body(n, target) + beat))
            for n in ("esc-a", "esc-b")
        ]
        both = ["esc-a", "esc-b"]
        await eventually(lambda: a.cluster.live == b.cluster.live == both, what="both live")
        await eventually(
            lambda: "nightly" in (a.monitor.owned or set()) | (b.monitor.owned or set()),
            what="nightly owned",
        )
        owner, other = (a, b) if "nightly" in (a.monitor.owned or ()) else (b, a)
        async with httpx.AsyncClient(base_url=other.base_url, timeout=10) as client:  # type: ignore[attr-defined]
            reply = await client.post(
                "/heartbeat/nightly/fail", headers={"Authorization": f"Bearer {token}"}
            )
            assert reply.status_code == 200, reply.text

            def paged() -> list[str]:
                return [r.json()["event"] for r in target.requests if r.path == "/hook"
                        and r.json()["incident"]["check"] == "nightly"]  # fmt: skip

            await eventually(lambda: paged() == ["triggered"], what="the owner paging the failure")
            assert owner.monitor.states["nightly"].status is Status.CRITICAL
            reply = await client.post(
                "/heartbeat/nightly", headers={"Authorization": f"Bearer {token}"}
            )
            assert reply.status_code == 200, reply.text
        await eventually(lambda: owner.monitor.states["nightly"].status is Status.OK,
                         what="the owner judging the success ping")  # fmt: skip
        await eventually(lambda: "resolved" in paged(), what="the resolution")
        assert paged().count("triggered") == 1


async def test_nodes_running_different_configs_notice_it(database, target, capsys):
    """A node whose config differs (one more check) is named by the other, loudly in the log."""
    extra = f'[[check]]\nname = "only-on-b"\ntype = "http"\nurl = "{target.url("/b")}"\n'
    async with running_app(database, body("esc-a", target)) as a:
        async with running_app(database, body("esc-b", target) + extra) as b:
            await eventually(lambda: a.cluster.mismatched == ["esc-b"], what="a noticing b")
            await eventually(lambda: b.cluster.mismatched == ["esc-a"], what="b noticing a")
    assert "cluster_config_differs" in capsys.readouterr().out


async def test_a_reload_adding_a_check_gives_it_to_one_node(database, target):
    """Both nodes reloaded with one more check: it runs on exactly one of them, the hashes
    written in the nodes table change and agree again."""
    extra = f'[[check]]\nname = "new-one"\ntype = "http"\nurl = "{target.url("/new")}"\n'
    async with nodes(database, target, "esc-a", "esc-b") as (a, b):
        await eventually(lambda: split([a, b]), what="the checks split")
        _, found = await rows(a)
        before = {r.config_hash for r in found}
        for app, name in ((a, "esc-a"), (b, "esc-b")):
            port = app.config.daemon.listen_port
            await app.reload(load_text(config_text(database, port, body(name, target) + extra)))

        def runs_new() -> list[str]:
            return [x.cluster.node for x in (a, b) if "new-one" in (x.monitor.owned or ())]

        await eventually(lambda: len(runs_new()) == 1 and not a.cluster.mismatched,
                         what="new-one on one node")  # fmt: skip

        def hashes(found: list[node_rows.NodeRow]) -> set[str | None]:
            return {r.config_hash for r in found}

        for _ in range(200):  # the next renewal of each node writes its new hash
            _, found = await rows(a)
            if len(hashes(found)) == 1 and not hashes(found) & before:
                break
            await asyncio.sleep(0.02)
        assert len(hashes(found)) == 1 and not hashes(found) & before
