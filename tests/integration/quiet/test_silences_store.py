"""Run-time silences in the store, on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from escalatord.core.quiet import Cover
from escalatord.core.rules import Decision
from escalatord.errors import NotFound
from escalatord.incidents import service
from escalatord.quiet import silences
from escalatord.store.db import Store
from escalatord.store.tables import timeline

NOW = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
BOSTON = Cover(match={"site": "boston"})


async def open_incident(store: Store, check: str, labels: dict[str, str]) -> int:
    decision = Decision(("r",), "error", None, "", "", ())
    async with store.write() as conn:
        incident_id, _ = await service.open_incident(
            conn, key=check, check=check, labels=labels, status="critical", summary="down",
            decision=decision, policy_snapshot=None, now=NOW,
        )  # fmt: skip
    return incident_id


async def quiet_entries(store: Store, incident_id: int) -> list[tuple[str, str]]:
    async with store.read() as conn:
        rows = await conn.execute(
            select(timeline.c.actor, timeline.c.message)
            .where(timeline.c.incident_id == incident_id, timeline.c.kind == "quiet")
            .order_by(timeline.c.id)
        )
        return [(r.actor, r.message) for r in rows.all()]


async def test_an_added_silence_is_listed_with_its_author_and_reason(store: Store) -> None:
    """A silence added by alice is listed with its matchers, times, reason and author."""
    cover = Cover(match={"site": ("boston", "nyc")}, match_re={"role": "db.*"}, checks=("a",))
    async with store.write() as conn:
        added = await silences.add(
            conn, cover, NOW, NOW + 2 * HOUR, reason="patching", now=NOW, by="alice"
        )
    async with store.read() as conn:
        [listed] = await silences.listed(conn, now=NOW)
        [pure] = await silences.in_force(conn, NOW)
    assert listed == added
    assert (listed.cover, listed.reason, listed.created_by) == (cover, "patching", "alice")
    assert pure.in_force(NOW) and not pure.in_force(NOW + 2 * HOUR)


async def test_ended_and_removed_silences_are_listed_only_with_everything(store: Store) -> None:
    """list leaves out ended and removed silences; `everything` shows them with who removed."""
    async with store.write() as conn:
        await silences.add(conn, BOSTON, NOW, NOW + HOUR, reason="a", now=NOW, by="x")
        gone = await silences.add(conn, BOSTON, NOW, NOW + 3 * HOUR, reason="b", now=NOW, by="x")
        kept = await silences.add(conn, BOSTON, NOW, NOW + 3 * HOUR, reason="c", now=NOW, by="x")
        await silences.remove(conn, gone.id, now=NOW + HOUR, by="bob")
    async with store.read() as conn:
        current = await silences.listed(conn, now=NOW + 2 * HOUR)
        everything = await silences.listed(conn, now=NOW + 2 * HOUR, everything=True)
    assert [s.id for s in current] == [kept.id]
    assert len(everything) == 3
    removed = next(s for s in everything if s.id == gone.id)
    assert (removed.removed_by, removed.removed_at) == ("bob", NOW + HOUR)


async def test_removing_twice_or_an_unknown_id_is_not_found(store: Store) -> None:
    """A removed silence cannot be removed again, and an unknown id is NotFound."""
    async with store.write() as conn:
        added = await silences.add(conn, BOSTON, NOW, NOW + HOUR, reason="r", now=NOW, by="x")
        await silences.remove(conn, added.id, now=NOW, by="x")
    with pytest.raises(NotFound, match="removed already"):
        async with store.write() as conn:
            await silences.remove(conn, added.id, now=NOW, by="x")
    with pytest.raises(NotFound, match="no silence 99"):
        async with store.write() as conn:
            await silences.remove(conn, 99, now=NOW, by="x")


@pytest.mark.parametrize(
    ("cover", "end", "reason", "expected"),
    [
        (Cover(), NOW + HOUR, "r", "say what to silence"),
        (BOSTON, NOW + HOUR, " ", "say why"),
        (BOSTON, NOW - HOUR, "r", "already ended"),
    ],
)
async def test_a_silence_that_cannot_work_is_refused(
    store: Store, cover: Cover, end: datetime, reason: str, expected: str
) -> None:
    """No matcher, no reason or an end in the past: ValueError saying what to give."""
    with pytest.raises(ValueError, match=expected):
        async with store.write() as conn:
            await silences.add(conn, cover, NOW - 2 * HOUR, end, reason=reason, now=NOW, by="x")


async def test_adding_and_removing_note_it_on_the_open_incidents_touched(store: Store) -> None:
    """The timeline of a covered open incident says who silenced it and why, then who removed
    the silence; an incident elsewhere gets nothing."""
    boston = await open_incident(store, "rtr-boston", {"site": "boston"})
    nyc = await open_incident(store, "rtr-nyc", {"site": "nyc"})
    async with store.write() as conn:
        added = await silences.add(
            conn, BOSTON, NOW, NOW + HOUR, reason="fibre cut", now=NOW, by="alice"
        )
        await silences.remove(conn, added.id, now=NOW, by="bob")
    entries = await quiet_entries(store, boston)
    assert [actor for actor, _ in entries] == ["alice", "bob"]
    assert "fibre cut" in entries[0][1] and f"silence {added.id} removed" in entries[1][1]
    assert await quiet_entries(store, nyc) == []
