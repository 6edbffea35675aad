"""The incident service on a real database (SQLite and PostgreSQL): lifecycle, dedup, timers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from escalatord.config.model import PolicyConfig
from escalatord.core.planning import snapshot
from escalatord.core.rules import Decision
from escalatord.errors import InvalidTransition, NotFound
from escalatord.incidents import service
from escalatord.store.tables import outbox

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
POLICY = snapshot(
    PolicyConfig.model_validate(
        {
            "name": "clinical",
            "repeat": 1,
            "repeat_every": "30m",
            "level": [{"after": "0m", "notify": ["ops"]}, {"after": "10m", "notify": ["manager"]}],
        }
    )
)
DECISION = Decision(
    rules=("patient care",),
    severity="critical",
    policy="clinical",
    owner="clinical-lead",
    runbook="https://wiki/hl7",
    steps=("Call vendor",),
)


async def open_one(store, key="hl7-feed", now=T0):
    async with store.write() as conn:
        incident_id, created = await service.open_incident(
            conn,
            key=key,
            check=key,
            labels={"category": "patient-care"},
            status="critical",
            summary="no heartbeat for 12m",
            decision=DECISION,
            policy_snapshot=POLICY,
            now=now,
        )
    return incident_id, created


async def fire(store, now):
    async with store.write() as conn:
        return await service.fire_due_steps(conn, now, lock=store.for_update)


async def sent(store, incident_id):
    async with store.read() as conn:
        rows = await conn.execute(
            select(outbox.c.notifier, outbox.c.event, outbox.c.level, outbox.c.status)
            .where(outbox.c.incident_id == incident_id)
            .order_by(outbox.c.id)
        )
        return [tuple(r) for r in rows]


async def kinds(store, incident_id):
    async with store.read() as conn:
        return [e.kind for e in await service.get_timeline(conn, incident_id)]


async def test_one_open_incident_per_key(store):
    """A second failure of the same check adds to the open incident instead of opening another."""
    first, created = await open_one(store)
    again, created_again = await open_one(store, now=T0 + timedelta(minutes=1))
    assert created and not created_again and again == first
    assert await kinds(store, first) == ["opened", "recurred"]


async def test_levels_fire_on_time_once_each_with_repeat(store):
    """Level 0 at once, level 1 after 10m, the ladder again after 30m; no step fires twice."""
    incident_id, _ = await open_one(store)
    assert await fire(store, T0) == 1
    assert await fire(store, T0) == 0  # same moment again: nothing new
    assert await fire(store, T0 + timedelta(minutes=9, seconds=59)) == 0
    assert await fire(store, T0 + timedelta(minutes=10)) == 1
    assert await fire(store, T0 + timedelta(minutes=45)) == 2  # a late tick catches up once
    assert await fire(store, T0 + timedelta(hours=5)) == 0
    assert [(n, e, lvl) for n, e, lvl, _ in await sent(store, incident_id)] == [
        ("ops", "triggered", 0),
        ("manager", "escalated", 1),
        ("ops", "reminder", 0),
        ("manager", "reminder", 1),
    ]


async def test_ack_stops_escalation_and_tells_everyone_paged(store):
    """After an ack no level fires; each paged notifier gets `acknowledged`; unsent pages mute."""
    incident_id, _ = await open_one(store)
    await fire(store, T0)
    async with store.write() as conn:
        row = await service.acknowledge(
            conn, incident_id, by="alice", now=T0 + timedelta(minutes=2)
        )
    assert row.status == "acknowledged" and row.acknowledged_by == "alice"
    assert await fire(store, T0 + timedelta(hours=2)) == 0
    assert await sent(store, incident_id) == [
        ("ops", "triggered", 0, "muted"),
        ("ops", "acknowledged", 0, "pending"),
    ]


async def test_recovery_resolves_and_frees_the_key(store):
    """Recovery resolves the incident, tells every paged notifier; a new failure reopens."""
    incident_id, _ = await open_one(store)
    await fire(store, T0 + timedelta(minutes=10))
    async with store.write() as conn:
        resolved = await service.resolve_key(
            conn, "hl7-feed", now=T0 + timedelta(minutes=11), summary="heartbeat received"
        )
    assert resolved == incident_id
    events = [(n, e) for n, e, _, _ in await sent(store, incident_id)]
    assert ("ops", "resolved") in events and ("manager", "resolved") in events
    new_id, created = await open_one(store, now=T0 + timedelta(minutes=20))
    assert created and new_id != incident_id


async def test_close_needs_a_note_and_invalid_changes_are_refused(store):
    """Close without a note is refused; acking a resolved incident is refused; ids must exist."""
    incident_id, _ = await open_one(store)
    async with store.write() as conn:
        await service.resolve(conn, incident_id, by="bob", now=T0)
    with pytest.raises(InvalidTransition, match="note"):
        async with store.write() as conn:
            await service.close(conn, incident_id, note="  ", by="bob", now=T0)
    with pytest.raises(InvalidTransition, match="already resolved"):
        async with store.write() as conn:
            await service.acknowledge(conn, incident_id, by="bob", now=T0)
    with pytest.raises(NotFound):
        async with store.write() as conn:
            await service.acknowledge(conn, 999_999, by="bob", now=T0)
    async with store.write() as conn:
        row = await service.close(conn, incident_id, note="replaced the switch", by="bob", now=T0)
    assert row.status == "closed" and row.close_note == "replaced the switch"
    assert await kinds(store, incident_id) == ["opened", "resolved", "closed"]


async def test_incident_without_policy_pages_nobody(store):
    """A rule without a policy records the incident but enqueues nothing."""
    async with store.write() as conn:
        incident_id, _ = await service.open_incident(
            conn,
            key="k",
            check="k",
            labels={},
            status="warning",
            summary="slow",
            decision=DECISION,
            policy_snapshot=None,
            now=T0,
        )
    assert await fire(store, T0 + timedelta(days=1)) == 0
    assert await sent(store, incident_id) == []
