"""Flap history and the flapping flag kept in check_states, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from escalatord.core.state import CheckState
from escalatord.core.status import Status
from escalatord.store import states as state_store
from escalatord.store.db import Store
from escalatord.store.tables import check_states

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_flap_history_round_trip(store: Store):
    """A saved history and flag load back as they were, and are overwritten by the next save."""
    flapping = CheckState(Status.CRITICAL, since=NOW, flap_history="oc" * 10 + "o", flapping=True)
    async with store.write() as conn:
        await state_store.save(conn, [("hl7-feed", flapping, {}), ("steady", CheckState(), {})])
    async with store.read() as conn:
        loaded = await state_store.load(conn)
    assert loaded["hl7-feed"][0] == flapping
    assert loaded["steady"][0] == CheckState()
    calmer = CheckState(Status.OK, since=NOW, flap_history="o" * 21, flapping=False)
    async with store.write() as conn:
        await state_store.save(conn, [("hl7-feed", calmer, {})])
    async with store.read() as conn:
        assert (await state_store.load(conn, page=1))["hl7-feed"][0] == calmer


async def test_rows_from_before_flap_detection_load_as_not_flapping(store: Store):
    """NULL flap columns (rows written before migration 0006) read as no history, not flapping."""
    async with store.write() as conn:
        await state_store.save(conn, [("old", CheckState(Status.WARNING, since=NOW), {})])
        await conn.execute(update(check_states).values(flap_history=None, flapping=None))
    async with store.read() as conn:
        state = (await state_store.load(conn))["old"][0]
    assert state.flap_history == "" and state.flapping is False
