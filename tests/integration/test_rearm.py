"""An acknowledgement that runs out (`ack_timeout`, a snooze's end) re-triggers a still-open
incident and restarts its ladder; `reassign` pages a new owner now. On SQLite and PostgreSQL,
driven through the engine's tick on a virtual clock; pages are read from the outbox."""

from __future__ import annotations

import asyncio
import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from escalatord.config.loader import load_text
from escalatord.config.model import Config
from escalatord.core.planning import snapshot
from escalatord.errors import InvalidTransition
from escalatord.escalation.engine import Engine
from escalatord.escalation.recipients import ConfigResolver
from escalatord.incidents import service
from escalatord.incidents.pages import nobody_reached
from escalatord.store.db import Store
from escalatord.store.tables import outbox
from tests.support.outbox import DECISION

# A Tuesday: alice is on call in "oncall" (weekly turns from Monday 5 January).
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
STAMP = "%Y%m%dT%H%M%S.%fZ"


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


CONFIG = load_text(
    textwrap.dedent("""
    [[notifier]]
    name = "hook"
    type = "webhook"
    url = "http://127.0.0.1:9/hook"

    [[person]]
    name = "alice"
      [[person.contact]]
      notifier = "hook"
      to = "alice@example.org"

    [[person]]
    name = "bob"
      [[person.contact]]
      notifier = "hook"
      to = "bob@example.org"

    [[person]]
    name = "carol"
      [[person.contact]]
      notifier = "hook"
      to = "carol@example.org"

    [[schedule]]
    name = "oncall"
    timezone = "UTC"
      [[schedule.layer]]
      members = ["alice", "bob"]
      start = "2026-01-05 09:00"
      rotation = "1w"

    [[policy]]
    name = "p"
    ack_timeout = "30m"
      [[policy.level]]
      after = "0m"
      notify = ["oncall"]
      [[policy.level]]
      after = "10m"
      notify = ["bob"]
    """),
    env={},
)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def opened(store: Store, clock: Clock, config: Config = CONFIG) -> tuple[Engine, int]:
    """An engine on a virtual clock and an incident under policy "p", its level 0 paged."""
    engine = Engine(store, config, wake=lambda: None, clock=clock)
    async with store.write() as conn:
        incident_id, _ = await service.open_incident(
            conn,
            key="core-switch",
            check="core-switch",
            labels={},
            status="critical",
            summary="down",
            decision=DECISION,
            policy_snapshot=snapshot(config.policy_by_name["p"]),
            now=clock.now,
        )
    await engine.tick()
    return engine, incident_id


async def keys(store: Store, incident_id: int) -> list[str]:
    async with store.read() as conn:
        found = await conn.execute(
            select(outbox.c.key).where(outbox.c.incident_id == incident_id).order_by(outbox.c.id)
        )
        return list(found.scalars())


async def delivered(store: Store, incident_id: int) -> None:
    """As if the dispatcher had delivered every pending page: only they are told of an ack."""
    async with store.write() as conn:
        await conn.execute(
            update(outbox)
            .where((outbox.c.incident_id == incident_id) & (outbox.c.status == "pending"))
            .values(status="delivered")
        )


async def row(store: Store, incident_id: int) -> Any:
    async with store.read() as conn:
        return await service.get(conn, incident_id)


async def said(store: Store, incident_id: int, kind: str) -> list[str]:
    async with store.read() as conn:
        return [e.message for e in await service.get_timeline(conn, incident_id) if e.kind == kind]


async def act(store: Store, action: Any, incident_id: int, **kwargs: Any) -> Any:
    async with store.write() as conn:
        return await action(conn, incident_id, **kwargs)


async def test_ack_timeout_retriggers_and_restarts_the_ladder(store):
    """Acknowledged by bob and still open 30m later: triggered again, level 0 paged again under
    keys of its own, level 1 10m after the re-trigger; a second ack gets notices of its own."""
    clock = Clock()
    engine, incident_id = await opened(store, clock)
    assert await keys(store, incident_id) == [f"{incident_id}:0:triggered:hook@alice#0"]
    clock.now = T0 + minutes(2)
    await delivered(store, incident_id)
    await act(store, service.acknowledge, incident_id, by="bob", now=clock.now)
    assert (await row(store, incident_id)).next_step_at == T0 + minutes(32)

    clock.now = T0 + minutes(31)
    assert await engine.tick() == 0
    assert (await row(store, incident_id)).status == "acknowledged"

    clock.now = again = T0 + minutes(32)
    assert await engine.tick() == 1
    now = await row(store, incident_id)
    assert (now.status, now.acknowledged_by, now.acknowledged_at) == ("triggered", None, None)
    assert (now.ladder_at, now.next_step, now.next_step_at) == (again, 1, again + minutes(10))
    assert await said(store, incident_id, "retriggered") == [
        "acknowledged by bob 30m ago and still failing: re-triggered, paging level 0 again"
    ]
    tag = again.strftime(STAMP)
    assert (await keys(store, incident_id))[-1] == f"{incident_id}:0~{tag}:triggered:hook@alice#0"

    clock.now = again + minutes(9)
    assert await engine.tick() == 0  # level 1 counts from the re-trigger, not from opened_at
    clock.now = again + minutes(10)
    assert await engine.tick() == 1
    assert (await keys(store, incident_id))[-1] == f"{incident_id}:1~{tag}:escalated:hook@bob#0"

    await delivered(store, incident_id)
    await act(store, service.acknowledge, incident_id, by="alice", now=clock.now)
    notices = [k for k in await keys(store, incident_id) if ":acknowledged" in k]
    assert f"{incident_id}:acknowledged:acknowledged:hook@alice#0" in notices
    assert f"{incident_id}:acknowledged.1:acknowledged:hook@bob#0" in notices


async def test_a_resolved_incident_is_not_retriggered(store):
    """Acknowledged, then resolved (its check recovered): the ack timeout never fires."""
    clock = Clock()
    engine, incident_id = await opened(store, clock)
    await act(store, service.acknowledge, incident_id, by="bob", now=clock.now)
    await act(store, service.resolve, incident_id, by="recovery", now=T0 + minutes(5))
    before = await keys(store, incident_id)
    clock.now = T0 + minutes(60)
    assert await engine.tick() == 0
    assert (await row(store, incident_id)).status == "resolved"
    assert await keys(store, incident_id) == before
    assert await said(store, incident_id, "retriggered") == []


async def test_snooze_acknowledges_and_retriggers_at_its_end(store):
    """A snooze acknowledges as its author until its end (longer than ack_timeout: the snooze
    wins); snoozing again sets the end anew; at the end the ladder restarts."""
    clock = Clock()
    engine, incident_id = await opened(store, clock)
    snoozed = await act(
        store, service.snooze, incident_id, until=T0 + minutes(60), by="alice", now=clock.now
    )
    assert (snoozed.status, snoozed.acknowledged_by) == ("acknowledged", "alice")
    assert snoozed.snoozed_until == snoozed.next_step_at == T0 + minutes(60)
    clock.now = T0 + minutes(40)
    assert await engine.tick() == 0  # past ack_timeout, inside the snooze
    await act(store, service.snooze, incident_id, until=T0 + minutes(90), by="bob", now=clock.now)
    assert await said(store, incident_id, "snoozed") == [
        "snoozed by bob until 2026-11-24 11:30:00 UTC"
    ]
    clock.now = T0 + minutes(89)
    assert await engine.tick() == 0
    clock.now = T0 + minutes(90)
    assert await engine.tick() == 1
    now = await row(store, incident_id)
    assert (now.status, now.snoozed_until, now.ladder_at) == ("triggered", None, clock.now)
    assert await said(store, incident_id, "retriggered") == [
        "snooze by bob ended and still failing: re-triggered, paging level 0 again"
    ]
    await act(store, service.resolve, incident_id, by="x", now=clock.now)
    with pytest.raises(InvalidTransition, match="already resolved; nothing to snooze"):
        await act(store, service.snooze, incident_id, until=T0 + minutes(99), by="a", now=clock.now)


async def reassign(store: Store, incident_id: int, to: str, now: datetime) -> tuple[Any, int]:
    resolver = ConfigResolver(lambda: CONFIG)
    async with store.write() as conn:
        return await service.reassign(
            conn, incident_id, to=to, by="alice", now=now, resolver=resolver
        )


async def test_reassign_a_triggered_incident_pages_the_new_owner_now(store):
    """The new owner is paged at once under keys of its own; the ladder keeps its times."""
    clock = Clock()
    _, incident_id = await opened(store, clock)
    done, enqueued = await reassign(store, incident_id, "carol", T0 + minutes(3))
    assert (done.owner, done.status, enqueued) == ("carol", "triggered", 1)
    assert done.next_step_at == T0 + minutes(10)
    assert (await keys(store, incident_id))[
        -1
    ] == f"{incident_id}:reassigned:triggered:hook@carol#0"
    assert await said(store, incident_id, "reassigned") == [
        "reassigned to carol by alice: paging carol now"
    ]
    again, _ = await reassign(store, incident_id, "oncall", T0 + minutes(4))  # alice's week
    assert again.owner == "oncall"
    assert (await keys(store, incident_id))[-1] == (
        f"{incident_id}:reassigned.1:triggered:hook@alice#0"
    )


async def test_reassign_an_acknowledged_incident_triggers_it_again(store):
    """Reassigning an acknowledged incident makes it triggered (the page is not muted) and
    puts back the ladder's next level at its own time."""
    clock = Clock()
    engine, incident_id = await opened(store, clock)
    await act(store, service.acknowledge, incident_id, by="bob", now=T0 + minutes(1))
    done, _ = await reassign(store, incident_id, "carol", T0 + minutes(5))
    assert (done.status, done.acknowledged_by, done.owner) == ("triggered", None, "carol")
    assert done.next_step_at == T0 + minutes(10)
    async with store.read() as conn:
        page = (await conn.execute(select(outbox).where(outbox.c.key.like("%:reassigned:%")))).one()
    assert (page.status, page.person) == ("pending", "carol")
    clock.now = T0 + minutes(10)
    assert await engine.tick() == 1  # level 1 at its own time
    await act(store, service.resolve, incident_id, by="x", now=clock.now)
    with pytest.raises(InvalidTransition, match="already resolved; nothing to reassign"):
        await reassign(store, incident_id, "carol", clock.now)


async def test_a_restarted_ladders_page_that_reaches_nobody_escalates_at_once(store):
    """A restarted ladder's level-0 page failing for good pages level 1 now; a page of the
    first ladder failing late is only noted (the ladder restarted since)."""
    clock = Clock()
    engine, incident_id = await opened(store, clock)
    await act(store, service.acknowledge, incident_id, by="bob", now=clock.now)
    clock.now = T0 + minutes(30)
    await engine.tick()
    first, restarted = [k for k in await keys(store, incident_id) if ":triggered:" in k]
    async with store.write() as conn:
        assert not await nobody_reached(conn, incident_id, first, now=clock.now, error="bounced")
        assert await nobody_reached(
            conn, incident_id, restarted, now=clock.now, error="bounced", resolver=engine.resolver
        )
    assert (await keys(store, incident_id))[-1].startswith(f"{incident_id}:1~")
    notes = await said(store, incident_id, "unreached")
    assert notes[0] == "this page reached nobody (bounced); the ladder has restarted since"


async def test_two_nodes_retrigger_an_incident_once(store_url):
    """Two engines ticking together on one database re-trigger the incident once and page
    level 0 of the restarted ladder once."""
    clock = Clock()
    async with Store(store_url) as one, Store(store_url) as two:
        engine, incident_id = await opened(one, clock)
        await act(one, service.acknowledge, incident_id, by="bob", now=clock.now)
        other = Engine(two, CONFIG, wake=lambda: None, clock=clock)
        clock.now = T0 + minutes(31)
        results = await asyncio.gather(engine.tick(), other.tick())
        assert sorted(results) == [0, 1]
        assert len(await said(one, incident_id, "retriggered")) == 1
