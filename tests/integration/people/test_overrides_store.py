"""Run-time rota overrides in the store, on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from escalatord.core.oncall import Override
from escalatord.errors import NotFound
from escalatord.people import overrides
from escalatord.store.db import Store

NOW = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def test_an_added_override_is_listed_with_who_added_it(store: Store) -> None:
    """An override added by `carol` is listed with its schedule, person, times and author."""
    async with store.write() as conn:
        added = await overrides.add(
            conn, "network-oncall", "erin", NOW, NOW + 48 * HOUR, now=NOW, by="carol"
        )
    async with store.read() as conn:
        [listed] = await overrides.listed(conn)
    assert listed == added
    assert (listed.schedule, listed.person, listed.created_by) == (
        "network-oncall",
        "erin",
        "carol",
    )
    assert (listed.start, listed.end) == (NOW, NOW + 48 * HOUR)


async def test_listing_filters_by_schedule_and_leaves_out_ended_ones(store: Store) -> None:
    """`listed(schedule=, after=)` shows only that schedule's overrides still to end."""
    async with store.write() as conn:
        await overrides.add(conn, "a", "p1", NOW, NOW + HOUR, now=NOW, by="x")
        await overrides.add(conn, "a", "p2", NOW + 2 * HOUR, NOW + 3 * HOUR, now=NOW, by="x")
        await overrides.add(conn, "b", "p3", NOW, NOW + 3 * HOUR, now=NOW, by="x")
    async with store.read() as conn:
        of_a = await overrides.listed(conn, schedule="a", after=NOW + HOUR)
    assert [o.person for o in of_a] == ["p2"]


async def test_removing_an_override_deletes_it_and_an_unknown_id_is_not_found(
    store: Store,
) -> None:
    """Removing returns the override and it is gone; removing it again says it does not exist."""
    async with store.write() as conn:
        added = await overrides.add(conn, "a", "p1", NOW, NOW + HOUR, now=NOW, by="x")
        assert (await overrides.remove(conn, added.id)).person == "p1"
    async with store.write() as conn:
        assert await overrides.listed(conn) == []
        with pytest.raises(NotFound, match="oncall overrides"):
            await overrides.remove(conn, added.id)


async def test_an_override_that_ends_before_it_starts_or_has_ended_is_refused(
    store: Store,
) -> None:
    """An override whose end is not after its start, or already past, is refused, nothing stored."""
    async with store.write() as conn:
        with pytest.raises(ValueError, match="later than"):
            await overrides.add(conn, "a", "p", NOW, NOW, now=NOW, by="x")
        with pytest.raises(ValueError, match="already ended"):
            await overrides.add(conn, "a", "p", NOW - 2 * HOUR, NOW - HOUR, now=NOW, by="x")
    async with store.read() as conn:
        assert await overrides.listed(conn) == []


async def test_in_force_gives_each_schedule_its_overlapping_overrides_in_added_order(
    store: Store,
) -> None:
    """Overrides overlapping the span come back per schedule, oldest added first; others not."""
    async with store.write() as conn:
        await overrides.add(conn, "a", "late", NOW + 5 * HOUR, NOW + 6 * HOUR, now=NOW, by="x")
        await overrides.add(conn, "a", "first", NOW, NOW + 2 * HOUR, now=NOW, by="x")
        await overrides.add(conn, "a", "second", NOW + HOUR, NOW + 3 * HOUR, now=NOW, by="x")
        await overrides.add(conn, "b", "other", NOW, NOW + 2 * HOUR, now=NOW, by="x")
    async with store.read() as conn:
        found = await overrides.in_force(conn, ["a", "c"], NOW, NOW + 4 * HOUR)
    assert found == {
        "a": (
            Override("first", NOW, NOW + 2 * HOUR),
            Override("second", NOW + HOUR, NOW + 3 * HOUR),
        ),
        "c": (),
    }


async def test_a_removed_overrides_id_is_never_given_to_a_new_one(store: Store) -> None:
    """After the newest override is removed, the next one gets a new id, so a removal from an
    old listing can never hit a newer override."""
    async with store.write() as conn:
        first = await overrides.add(conn, "a", "p1", NOW, NOW + HOUR, now=NOW, by="x")
        await overrides.remove(conn, first.id)
        second = await overrides.add(conn, "a", "p2", NOW, NOW + HOUR, now=NOW, by="x")
    assert second.id > first.id
