"""A flapping check through the monitor and the engine, on SQLite and PostgreSQL: one flapping
incident instead of a page per change, and what happens once it is stable again. Results are
fed with their own times (a virtual clock); pages are read from the outbox."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from escalatord.checks.base import Check, CheckConfig
from escalatord.config.loader import load_text
from escalatord.core.status import Result, Status
from escalatord.escalation.engine import Engine
from escalatord.incidents import service
from escalatord.monitor.runner import Monitor
from escalatord.store import states as state_store
from escalatord.store.db import Store
from escalatord.store.tables import incidents, outbox

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OK, CRIT = Status.OK, Status.CRITICAL

CONFIG = load_text(
    textwrap.dedent("""
    [[check]]
    name = "hl7-feed"
    type = "tcp"
    host = "127.0.0.1"
    port = 9
    retries = 1
    labels = { team = "integration" }

    [[notifier]]
    name = "hook"
    type = "webhook"
    url = "http://127.0.0.1:9/hook"

    [[policy]]
    name = "p"
      [[policy.level]]
      after = "0m"
      notify = ["hook"]

    [[rule]]
    name = "integration"
    match = { team = "integration" }
    policy = "p"
    """),
    env={},
)


class Fed(Check):
    """A check whose results the test feeds; it is never probed."""

    async def probe(self) -> Result:
        raise AssertionError("not probed in these tests")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def monitor(store: Store, clock: Clock) -> Monitor:
    check = Fed(CONFIG.check_by_name["hl7-feed"], None)  # type: ignore[arg-type]
    engine = Engine(store, CONFIG, wake=lambda: None, clock=clock)
    return Monitor(store, engine, {"hl7-feed": check}, clock=clock)


async def feed(mon: Monitor, clock: Clock, statuses: list[Status]) -> None:
    for status in statuses:
        clock.now += timedelta(minutes=1)
        await mon.on_result("hl7-feed", Result(status, f"was {status.value}", at=clock.now))


async def all_incidents(store: Store) -> list:
    async with store.read() as conn:
        return (await conn.execute(select(incidents).order_by(incidents.c.id))).all()


async def pages(store: Store) -> list[tuple[int, str]]:
    async with store.read() as conn:
        rows = await conn.execute(
            select(outbox.c.incident_id, outbox.c.event).order_by(outbox.c.id)
        )
        return [(r.incident_id, r.event) for r in rows]


async def test_flapping_opens_one_incident_and_changes_inside_do_not_page(store):
    """Alternating results page three problems, then one flapping incident and no more."""
    clock = Clock()
    mon = monitor(store, clock)
    await feed(mon, clock, [CRIT, OK] * 10)
    rows = await all_incidents(store)
    problems = [r for r in rows if r.kind is None]
    flapping = [r for r in rows if r.kind == "flapping"]
    # c,o,c,o,c,o: five changes (28.5%) page as problems; the sixth change (33.9%) flaps.
    assert len(problems) == 3 and all(r.status == "resolved" for r in problems)
    assert len(flapping) == 1 and flapping[0].status == "triggered"
    incident = flapping[0]
    assert incident.title == "hl7-feed is flapping"
    assert incident.key == "hl7-feed/flapping" and incident.rule == "integration"
    assert (
        incident.summary == "hl7-feed is flapping (state changed 19 times in the last 20 results)"
    )
    triggered = [i for i, event in await pages(store) if event == "triggered"]
    assert triggered == [r.id for r in problems] + [incident.id]
    assert mon.flapping == {"hl7-feed"}
    async with store.read() as conn:
        stored = (await state_store.load(conn))["hl7-feed"][0]
    assert stored.flapping and stored.flap_history == mon.states["hl7-feed"].flap_history


async def test_stable_again_and_ok_resolves_the_flapping_incident(store):
    """Once the score is no longer above 25% with the check ok, the flapping incident resolves
    and nothing else opens."""
    clock = Clock()
    mon = monitor(store, clock)
    await feed(mon, clock, [CRIT, OK] * 10)
    await feed(mon, clock, [OK] * 21)
    assert not mon.states["hl7-feed"].flapping and mon.flapping == set()
    flapping = [r for r in await all_incidents(store) if r.kind == "flapping"]
    assert [r.status for r in flapping] == ["resolved"]
    assert flapping[0].resolved_by == "flap detection"
    assert "stable again" in flapping[0].summary and flapping[0].summary.endswith("ok now")
    assert not [r for r in await all_incidents(store) if r.status == "triggered"]


async def test_stable_again_but_failing_opens_a_problem_incident(store):
    """A check that stops flapping while critical gets its flapping incident resolved and a new
    problem incident, paged."""
    clock = Clock()
    mon = monitor(store, clock)
    await feed(mon, clock, [CRIT, OK] * 10)
    before = {r.id for r in await all_incidents(store)}
    await feed(mon, clock, [CRIT] * 21)
    rows = await all_incidents(store)
    flapping = next(r for r in rows if r.kind == "flapping")
    assert flapping.status == "resolved" and flapping.summary.endswith("critical now")
    new = [r for r in rows if r.id not in before]
    assert len(new) == 1 and new[0].kind is None and new[0].status == "triggered"
    assert new[0].title == "hl7-feed is CRITICAL"
    assert (new[0].id, "triggered") in await pages(store)
    async with store.read() as conn:
        timeline = await service.get_timeline(conn, flapping.id)
    assert [e.kind for e in timeline].count("status") >= 1  # hard changes noted, not paged


async def test_a_problem_open_when_flapping_starts_is_folded_into_it(store):
    """A problem incident still open when flapping starts resolves, naming the flapping one."""
    clock = Clock()
    mon = monitor(store, clock)
    await feed(mon, clock, [OK, CRIT] * 3)  # the third problem incident is open
    open_problem = next(r for r in await all_incidents(store) if r.status == "triggered")
    await feed(mon, clock, [Status.WARNING])  # the 6th change (33.9%): flapping starts
    rows = {r.id: r for r in await all_incidents(store)}
    flapping = next(r for r in rows.values() if r.kind == "flapping")
    assert rows[open_problem.id].status == "resolved"
    followed = f"hl7-feed is flapping: followed on incident {flapping.id}"
    assert rows[open_problem.id].summary == followed


async def test_flap_detection_off_pages_every_change(store):
    """With flap_detection = false every hard change opens or resolves a problem as before."""
    clock = Clock()
    config = CheckConfig(name="hl7-feed", type="tcp", retries=1, flap_detection=False)
    check = Fed(config, None)  # type: ignore[arg-type]
    engine = Engine(store, CONFIG, wake=lambda: None, clock=clock)
    mon = Monitor(store, engine, {"hl7-feed": check}, clock=clock)
    await feed(mon, clock, [CRIT, OK] * 10)
    rows = await all_incidents(store)
    assert len(rows) == 10 and all(r.kind is None for r in rows)
    assert mon.states["hl7-feed"].flap_history == ""


async def test_release_after_a_quiet_time_leaves_a_flapping_check_alone(store):
    """The engine's release (a quiet time ended, or start) opens no problem incident for a
    check failing while it flaps: its flapping incident stands for it."""
    clock = Clock()
    mon = monitor(store, clock)
    await feed(mon, clock, [CRIT, OK] * 10 + [CRIT])
    assert mon.states["hl7-feed"].flapping and mon.states["hl7-feed"].status is CRIT
    before = len(await all_incidents(store))
    assert await mon.engine.release() == []
    assert len(await all_incidents(store)) == before
