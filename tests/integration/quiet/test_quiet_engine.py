"""Quiet times in the engine on SQLite and PostgreSQL, on a virtual clock: a quiet check
opens no incident and is opened by `release` once its quiet time ends; an open incident's
levels wait inside a window and fire after it; a failure already paged is not opened again."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from escalatord.config.loader import load_text
from escalatord.core.quiet import Cover
from escalatord.core.state import CheckState, Transition
from escalatord.core.status import Status
from escalatord.escalation.engine import Engine
from escalatord.incidents import service
from escalatord.quiet import silences
from escalatord.store.db import Store
from escalatord.store.tables import incidents, outbox

T0 = datetime(2026, 12, 5, 21, 0, tzinfo=UTC)  # a Saturday, 16:00 in New York
CONFIG = load_text(
    textwrap.dedent("""
    [[check]]
    name = "router"
    type = "tcp"
    host = "127.0.0.1"
    port = 9
    labels = { site = "boston" }

    [[check]]
    name = "switch"
    type = "tcp"
    host = "127.0.0.1"
    port = 9
    depends_on = ["router"]

    [[rule]]
    name = "all"
    policy = "p"

    [[policy]]
    name = "p"
      [[policy.level]]
      after = "0m"
      notify = ["hook"]
      [[policy.level]]
      after = "10m"
      notify = ["hook"]

    [[notifier]]
    name = "hook"
    type = "webhook"
    url = "http://127.0.0.1:9/hook"

    [[maintenance]]
    name = "patch-night"
    match = { site = "boston" }
    schedule = "0 17 * * sat"
    duration = "1h"
    timezone = "America/New_York"
    children = true
    """),
    env={},
)
WINDOW_START = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)  # 17:00 New York


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def fail(engine: Engine, check: str, at: datetime) -> int | None:
    tr = Transition(check, Status.OK, Status.CRITICAL, at, "down")
    state = CheckState(status=Status.CRITICAL, since=at, last_status=Status.CRITICAL)
    return await engine.on_transition(tr, state, {})


async def pages(store: Store) -> list[tuple[str, int]]:
    async with store.read() as conn:
        rows = await conn.execute(
            select(incidents.c.check, outbox.c.level)
            .join(incidents, incidents.c.id == outbox.c.incident_id)
            .order_by(outbox.c.id)
        )
        return [(r.check, r.level) for r in rows.all()]


async def test_a_dependant_failing_in_a_window_is_opened_when_it_ends(store: Store) -> None:
    """The switch (a dependant of the window's router, children = true) fails inside the
    window: no incident; release inside does nothing; release at the end opens and pages it."""
    clock = Clock(WINDOW_START + timedelta(minutes=10))
    engine = Engine(store, CONFIG, wake=lambda: None, clock=clock)
    assert await fail(engine, "switch", clock.now) is None
    assert await engine.release() == []
    assert await pages(store) == []
    clock.now = WINDOW_START + timedelta(hours=1)
    [opened] = await engine.release()
    assert await pages(store) == [("switch", 0)]
    assert await engine.release() == []  # its failure has its incident now
    async with store.read() as conn:
        assert (await service.get(conn, opened)).check == "switch"


async def test_an_open_incident_waits_in_a_silence_and_resumes(store: Store) -> None:
    """Level 1 (due 10m after opening) falls due inside a silence: not paged until the
    silence is removed, then at the next tick."""
    clock = Clock(T0)
    engine = Engine(store, CONFIG, wake=lambda: None, clock=clock)
    assert await fail(engine, "switch", T0) is not None
    assert await pages(store) == [("switch", 0)]
    async with store.write() as conn:
        added = await silences.add(
            conn, Cover(checks=("switch",)), T0, T0 + timedelta(hours=2), reason="r", now=T0,
            by="alice",
        )  # fmt: skip
    clock.now = T0 + timedelta(minutes=15)
    await engine.tick()
    assert await pages(store) == [("switch", 0)]
    async with store.write() as conn:
        await silences.remove(conn, added.id, now=clock.now, by="bob")
    await engine.tick()
    assert await pages(store) == [("switch", 0), ("switch", 1)]


async def test_a_closed_incident_of_a_failing_check_is_not_opened_again(store: Store) -> None:
    """A failure paged and then closed by hand has had its incident: release leaves it."""
    clock = Clock(T0)
    engine = Engine(store, CONFIG, wake=lambda: None, clock=clock)
    incident_id = await fail(engine, "router", T0)
    assert incident_id is not None
    async with store.write() as conn:
        await service.close(conn, incident_id, note="known", by="alice", now=T0)
    assert await engine.release() == []


async def test_a_window_edge_is_noted_on_the_open_incidents_it_covers(store: Store) -> None:
    """At the window's start and end, the router's open incident gets a timeline entry each;
    an unknown window notes nothing."""
    clock = Clock(T0)
    engine = Engine(store, CONFIG, wake=lambda: None, clock=clock)
    incident_id = await fail(engine, "router", T0)
    assert incident_id is not None
    what = "maintenance patch-night"
    assert await engine.quiet.note(store, WINDOW_START, "start", what) == 1
    assert await engine.quiet.note(store, WINDOW_START + timedelta(hours=1), "end", what) == 1
    assert await engine.quiet.note(store, WINDOW_START, "start", "maintenance gone") == 0
    async with store.read() as conn:
        entries = await service.get_timeline(conn, incident_id)
    quiet = [e for e in entries if e.kind == "quiet"]
    assert [e.message.split(":")[0] for e in quiet] == [
        "maintenance patch-night began",
        "maintenance patch-night ended",
    ]
    assert "2026-12-05T23:00:00+00:00" in quiet[0].message
