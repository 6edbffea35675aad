"""Storms in the store (incidents/groups.py), on SQLite and PostgreSQL: incidents of a
`group_by` rule opening together are paged as one group by its leader, one ack acknowledges
the group, members resolve on their own, and a leader that ends hands its ladder on."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from escalatord.config.loader import load_text
from escalatord.config.model import PolicyConfig
from escalatord.core import rules
from escalatord.core.grouping import Grouping
from escalatord.core.planning import snapshot
from escalatord.core.state import Transition
from escalatord.core.status import Status
from escalatord.escalation.engine import Engine
from escalatord.incidents import service
from escalatord.store.db import Store
from escalatord.store.tables import outbox
from tests.support.outbox import DECISION

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SITE = Grouping("r", ("site",), timedelta(seconds=30))
POLICY = snapshot(
    PolicyConfig.model_validate(
        {
            "name": "p",
            "level": [{"after": "0m", "notify": ["hook"]}, {"after": "10m", "notify": ["boss"]}],
        }
    )
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def open_one(
    store: Store, check: str, site: str, seconds: float, grouping: Grouping | None = SITE
) -> int:
    async with store.write() as conn:
        incident_id, _ = await service.open_incident(
            conn,
            key=check,
            check=check,
            labels={"site": site},
            status="critical",
            summary=f"{check} down",
            decision=DECISION,
            policy_snapshot=POLICY,
            now=at(seconds),
            grouping=grouping,
        )
    return incident_id


async def fire(store: Store, seconds: float) -> int:
    async with store.write() as conn:
        return await service.fire_due_steps(conn, at(seconds))


async def pages(store: Store) -> list[Any]:
    async with store.read() as conn:
        return list((await conn.execute(select(outbox).order_by(outbox.c.id))).all())


async def delivered(store: Store) -> None:
    """As if the dispatcher had delivered every pending row: only they are told of an ack."""
    async with store.write() as conn:
        await conn.execute(
            update(outbox).where(outbox.c.status == "pending").values(status="delivered")
        )


async def row(store: Store, incident_id: int) -> Any:
    async with store.read() as conn:
        return await service.get(conn, incident_id)


async def act(store: Store, action: Any, incident_id: int, seconds: float, **kw: Any) -> Any:
    async with store.write() as conn:
        return await action(conn, incident_id, now=at(seconds), **kw)


async def storm(store: Store, paris: bool = False) -> list[int]:
    """Three boston checks failing within 10 s (and, with `paris`, one there in between)."""
    ids = [await open_one(store, "web", "boston", 0)]
    if paris:
        await open_one(store, "mail", "paris", 1)
    ids.append(await open_one(store, "db", "boston", 5))
    ids.append(await open_one(store, "dns", "boston", 10))
    return ids


def members(page: Any) -> list[str]:
    return [m["check"] for m in page.payload["group"]["members"]]


async def test_a_storm_is_paged_once_per_level_listing_every_member(store):
    """The leader's level 0 waits group_wait, then one page lists all three; members page
    nothing of their own; level 1 is one page too; another site is its own group."""
    leader, db, dns = await storm(store, paris=True)
    assert [(await row(store, i)).group_id for i in (leader, db, dns)] == [leader] * 3
    assert (await row(store, db)).next_step_at is None
    assert await fire(store, 29) == 0
    assert await fire(store, 30) == 1
    [first] = await pages(store)
    assert first.key == f"{leader}:0:triggered:hook" and members(first) == ["web", "db", "dns"]
    group = first.payload["group"]
    assert (group["id"], group["key"], group["size"]) == (str(leader), "r|site=boston", 3)
    assert set(group["members"][0]) == {"id", "check", "title", "status", "summary"}
    assert await fire(store, 31) == 1  # paris, alone in its group
    assert await fire(store, 600) == 1
    escalated = (await pages(store))[-1]
    assert escalated.key == f"{leader}:1:escalated:boss" and members(escalated) == [
        "web",
        "db",
        "dns",
    ]


async def test_an_incident_after_group_wait_leads_a_new_group(store):
    """Opening 31 s after the group's first incident, a boston check leads a group of its own."""
    leader = await open_one(store, "web", "boston", 0)
    late = await open_one(store, "db", "boston", 31)
    assert (await row(store, late)).group_id == late != leader


async def test_without_group_by_nothing_changes(store):
    """No grouping: no group columns, level 0 at once, a payload without `group`."""
    first = await open_one(store, "web", "boston", 0, grouping=None)
    await open_one(store, "db", "boston", 1, grouping=None)
    assert (await row(store, first)).group_id is None
    assert await fire(store, 1) == 2
    assert all("group" not in p.payload for p in await pages(store))


async def test_one_ack_of_any_member_acknowledges_the_group(store):
    """`ack ID` of a member acknowledges leader and members; only the leader's notice goes
    out, listing the group."""
    leader, db, dns = await storm(store)
    await fire(store, 30)
    await act(store, service.acknowledge, db, 40, by="alice")
    for incident_id in (leader, db, dns):
        r = await row(store, incident_id)
        assert (r.status, r.acknowledged_by) == ("acknowledged", "alice")
    notices = [p for p in await pages(store) if p.event == "acknowledged"]
    assert [n.key for n in notices] == [f"{leader}:acknowledged:acknowledged:hook"]
    assert members(notices[0]) == ["web", "db", "dns"]
    assert await fire(store, 600) == 0  # the group's ladder stopped


async def test_members_resolve_on_their_own_and_the_group_keeps_paging(store):
    """A member that recovers resolves alone (its notice to whom the group paged); the group
    still escalates, listing it as resolved."""
    leader, db, dns = await storm(store)
    await fire(store, 30)
    await act(store, service.resolve, db, 60, by="recovery")
    assert [(await row(store, i)).status for i in (leader, db, dns)] == [
        "triggered",
        "resolved",
        "triggered",
    ]
    assert f"{db}:resolved:resolved:hook" in [p.key for p in await pages(store)]
    assert await fire(store, 600) == 1
    statuses = [m["status"] for m in (await pages(store))[-1].payload["group"]["members"]]
    assert statuses == ["triggered", "resolved", "triggered"]


async def test_a_leader_that_resolves_hands_its_ladder_on(store):
    """The leader recovers first: the oldest open member takes the ladder on at the same
    times, the group is paged under its id, and one ack acknowledges what is left."""
    leader, db, dns = await storm(store)
    await fire(store, 30)
    await delivered(store)
    await act(store, service.resolve, leader, 60, by="recovery")
    heir = await row(store, db)
    assert (heir.next_step, heir.next_step_at, heir.ladder_at) == (1, at(600), T0)
    assert [(await row(store, i)).group_id for i in (leader, db, dns)] == [db] * 3
    assert await fire(store, 599) == 0
    assert await fire(store, 600) == 1
    page = (await pages(store))[-1]
    assert page.key == f"{db}:1~{T0:%Y%m%dT%H%M%S.%fZ}:escalated:boss"
    assert members(page) == ["db", "web", "dns"]  # the leader first
    await act(store, service.acknowledge, dns, 700, by="bob")
    assert [(await row(store, i)).status for i in (leader, db, dns)] == [
        "resolved",
        "acknowledged",
        "acknowledged",
    ]
    # Everyone the group paged, under either leader, is told of the ack.
    acked = {p.notifier for p in await pages(store) if p.event == "acknowledged"}
    assert acked == {"hook", "boss"}


async def test_the_last_member_ending_ends_the_group(store):
    """Leader and members all recover: nothing more is paged and no new leader is chosen."""
    ids = await storm(store)
    await fire(store, 30)
    for n, incident_id in enumerate(ids):
        await act(store, service.resolve, incident_id, 60 + n, by="recovery")
    assert await fire(store, 600) == 0
    assert [(await row(store, i)).next_step_at for i in ids] == [None] * 3


async def test_a_snoozed_member_restarts_the_groups_ladder_at_its_end(store):
    """Snoozing a member acknowledges the group and snoozes it through the leader; at the end
    the leader re-triggers with every member, and the group is paged again as one."""
    leader, db, dns = await storm(store)
    await fire(store, 30)
    await act(store, service.snooze, db, 40, until=at(100), by="alice")
    assert [(await row(store, i)).status for i in (leader, db, dns)] == ["acknowledged"] * 3
    assert ((await row(store, db)).next_step_at, (await row(store, leader)).next_step_at) == (
        None,
        at(100),
    )
    async with store.write() as conn:
        assert await service.retrigger_due(conn, at(100)) == [leader]
    assert [(await row(store, i)).status for i in (leader, db, dns)] == ["triggered"] * 3
    assert await fire(store, 100) == 1
    assert members((await pages(store))[-1]) == ["web", "db", "dns"]


async def test_a_root_cause_is_never_grouped(store):
    """A down check that others depend on opens alone (it already covers its dependants);
    a plain check of the same site is grouped, and without group_by nothing is."""
    config = load_text(
        textwrap.dedent("""
        [[check]]
        name = "router"
        type = "tcp"
        host = "127.0.0.1"
        port = 9
        labels = { site = "boston" }
        [[check]]
        name = "web"
        type = "tcp"
        host = "127.0.0.1"
        port = 9
        depends_on = ["router"]
        labels = { site = "boston" }
        [[rule]]
        name = "sites"
        group_by = ["site"]
        """),
        env={},
    )
    engine = Engine(store, config, wake=lambda: None)
    decision = rules.match(config.rules, {"site": "boston"}, "router", Status.CRITICAL)
    assert decision is not None

    def tr(check: str, status: Status) -> Transition:
        return Transition(check, Status.OK, status, T0, "down")

    assert engine._grouping(decision, tr("router", Status.CRITICAL)) is None
    assert engine._grouping(decision, tr("router", Status.WARNING)) == Grouping(
        "sites", ("site",), timedelta(seconds=30)
    )
    assert engine._grouping(decision, tr("web", Status.CRITICAL)) is not None
