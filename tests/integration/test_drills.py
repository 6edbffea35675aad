"""Drills on a real database (SQLite and PostgreSQL): a drill incident is a real incident
marked as one (drill = 1, a DRILL title, incident.drill in the payload), under a key of its own,
and its ack records who took it and after how long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from escalatord.incidents import service
from escalatord.incidents.drills import open_drill
from tests.integration.test_incidents import DECISION, POLICY, open_one

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


async def drill_on(store, now=T0):
    async with store.write() as conn:
        return await open_drill(
            conn,
            target="rule=patient care",
            check="hl7-feed",
            labels={"category": "patient-care"},
            decision=DECISION,
            policy_snapshot=POLICY,
            now=now,
            by="alice",
        )


async def test_a_drill_incident_is_marked_titled_and_flagged_in_its_payload(store):
    """A drill's row has drill = 1, a "DRILL: " title and its policy's first timer, and its
    payload says incident.drill = true."""
    incident_id = await drill_on(store)
    async with store.read() as conn:
        row = await service.get(conn, incident_id)
    assert row.drill == 1
    assert row.title == "DRILL: hl7-feed is CRITICAL"
    assert row.status == "triggered"
    assert row.next_step_at == T0
    assert (row.owner, row.policy["name"]) == ("clinical-lead", "clinical")
    payload = service.view(row).to_json()
    assert payload["drill"] is True
    assert payload["title"].startswith("DRILL")


async def test_a_drill_has_its_own_key_and_never_dedups_onto_a_real_incident(store):
    """With the check's real incident open, a drill opens a second incident under a key of its
    own, and the real one stays a real one (drill null, payload drill false)."""
    real_id, created = await open_one(store)
    assert created
    drill_id = await drill_on(store)
    again = await drill_on(store, T0 + timedelta(seconds=1))
    assert len({real_id, drill_id, again}) == 3
    async with store.read() as conn:
        real = await service.get(conn, real_id)
        drill = await service.get(conn, drill_id)
    assert drill.key.startswith("drill:rule=patient care:")
    assert drill.key != real.key
    assert real.drill is None
    assert service.view(real).to_json()["drill"] is False


async def test_a_drill_ack_records_who_at_which_level_and_after_how_long(store):
    """Acknowledging a drill 95s after it opened leaves an acknowledged entry whose data is
    {"drill": true, "by", "level", "seconds": 95}; a real ack carries no such data."""
    drill_id = await drill_on(store)
    real_id, _ = await open_one(store)
    async with store.write() as conn:
        await service.fire_due_steps(conn, T0, lock=store.for_update)
    async with store.write() as conn:
        await service.acknowledge(conn, drill_id, by="bob", now=T0 + timedelta(seconds=95))
        await service.acknowledge(conn, real_id, by="bob", now=T0 + timedelta(seconds=95))
    async with store.read() as conn:
        drill_acks = [
            e for e in await service.get_timeline(conn, drill_id) if e.kind == "acknowledged"
        ]
        real_acks = [
            e for e in await service.get_timeline(conn, real_id) if e.kind == "acknowledged"
        ]
    [entry] = drill_acks
    assert entry.actor == "bob"
    assert entry.data == {"drill": True, "by": "bob", "level": 0, "seconds": 95.0}
    assert real_acks[0].data is None
