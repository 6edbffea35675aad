"""What would happen if some checks failed at an instant: the daemon's own code on a virtual clock.

`escalatord simulate` (commands/simulate.py) calls `run(config, scenario, copy_from)`. The run
uses the objects the daemon uses — the Monitor (state machine, retries, dependencies, flapping:
monitor/) and the Engine (rules, quiet times, incidents, the ladder and who each level reaches:
escalation/, incidents/) — with a clock this module moves from one due instant to the next,
on a throwaway SQLite database in a temporary directory deleted at the end. Nothing is probed
and no notifier is built, so nothing is sent; the configured database is only read (its rota
overrides and silences are copied into the throwaway one). The pages are the outbox rows the
ladder wrote, read back by commands/simulation_outcome.py.

What the checks answer:
- each check named fails from `at`: every run answers critical until `recover_after` has
  passed, then ok. So does every check that cannot be reached without one of them (through
  `depends_on`, or `depends_on_any` when all of those fail): a router down takes the servers
  behind it along, which is what root-cause incidents are for;
- every other check answers ok whenever it runs: the parents of failing checks run on their
  interval (a failing dependant also asks its parent at once), the rest never need to run;
- a failing check's first failing run is at `at` itself (live, it comes within its interval);
  a passive check (a heartbeat, a trap) counts its failure at once, as its own judgement does.

Each incident opened is acknowledged by `by`, `ack_after` after it opened, when asked.
"""

from __future__ import annotations

import heapq
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, insert, select, update

from escalatord import plugins
from escalatord.commands import simulation_outcome as outcome
from escalatord.commands.simulation_clock import Clock, Stand, VirtualScheduler
from escalatord.core import quiet as core_quiet
from escalatord.core import topology
from escalatord.core.state import CheckState, Settings
from escalatord.core.status import Result, Status
from escalatord.escalation import quiet
from escalatord.escalation.engine import Engine
from escalatord.incidents import rows, service
from escalatord.incidents.outbox import PAGE_EVENTS
from escalatord.monitor.runner import Monitor
from escalatord.store.db import Store
from escalatord.store.tables import incidents, outbox, schedule_overrides, silences

if TYPE_CHECKING:
    from escalatord.checks.base import CheckConfig
    from escalatord.config.model import Config

# A run stops here whatever is still to come (a ladder cannot be longer than this in practice).
HORIZON = timedelta(days=31)
MAX_EVENTS = 100_000
FAILED = "simulated failure"
ANSWERS = "answers again"
OPEN = ("triggered", "acknowledged")
# A check's own failure: it opens an incident (unreachable is its parent's and opens none).
OWN_PROBLEMS = (Status.WARNING, Status.CRITICAL, Status.UNKNOWN)


@dataclass(frozen=True)
class Scenario:
    """What the user asked: `checks` fail at `at` (aware); the rest is optional."""

    checks: tuple[str, ...]
    at: datetime
    ack_after: timedelta | None = None
    by: str = "someone"
    recover_after: timedelta | None = None

    @property
    def recover_at(self) -> datetime | None:
        return self.at + self.recover_after if self.recover_after is not None else None


def failing_with(config: Config, named: Iterable[str]) -> dict[str, str]:
    """Every check that fails when `named` do: each named one (cause "") and each check that
    cannot be reached without failing ones, with the parents it is cut off by."""
    graph = topology.graph(
        (c.name, c.depends_on, c.depends_on_any) for c in config.checks if c.enabled
    )
    found = {name: "" for name in named}
    grown = True
    while grown:  # a chain of dependants (site -> router -> server) falls link by link
        grown = False
        for check in config.checks:
            if not check.enabled or check.name in found:
                continue
            cut = [p for p in graph.all_of.get(check.name, ()) if p in found]
            anyof = graph.any_of.get(check.name, ())
            if anyof and all(p in found for p in anyof):
                cut += anyof
            if cut:
                found[check.name] = ", ".join(cut)
                grown = True
    return found


@dataclass
class _Run:
    """The objects of one run and what it has noted so far."""

    config: Config
    scenario: Scenario
    failing: dict[str, str]
    store: Store
    clock: Clock
    engine: Engine
    monitor: Monitor
    scheduler: VirtualScheduler
    ends: list[datetime]  # quiet times ending (windows, silences), in order
    acks: list[tuple[datetime, int]] = field(default_factory=list)  # heap: (when, incident)
    asked: set[int] = field(default_factory=set)  # incidents whose ack is queued
    changes: list[outcome.Change] = field(default_factory=list)

    def answer(self, name: str) -> Status:
        recover_at = self.scenario.recover_at
        if name in self.failing and (recover_at is None or self.clock() < recover_at):
            return Status.CRITICAL
        return Status.OK


async def run(
    config: Config, scenario: Scenario, copy_from: Store | None = None
) -> outcome.Outcome:
    """The timeline of `scenario` under `config` (module docstring). `copy_from`: the configured
    database, whose rota overrides and silences count (None: the config alone)."""
    failing = failing_with(config, scenario.checks)
    with tempfile.TemporaryDirectory(prefix="escalatord-simulate-") as scratch:
        store = Store(f"sqlite:///{Path(scratch) / 'simulate.db'}")
        await store.open()
        try:
            if copy_from is not None:
                await _copy(copy_from, store)
            sim = await _start(config, scenario, failing, store)
            ended = await _loop(sim)
            return await outcome.read(store, scenario, failing, sim.changes, ended, sim.clock())
        finally:
            await store.close()


async def _copy(source: Store, target: Store) -> None:
    """The stored rota overrides and silences not removed: what the live ladder would read."""
    async with source.read() as conn:
        overrides = [dict(r._mapping) for r in await conn.execute(select(schedule_overrides))]
        quiet_rows = (await conn.execute(select(silences))).all()
    kept = [dict(r._mapping) for r in quiet_rows if r.removed_at is None]
    async with target.write() as conn:
        if overrides:
            await conn.execute(insert(schedule_overrides), overrides)
        if kept:
            await conn.execute(insert(silences), kept)


async def _start(config: Config, scenario: Scenario, failing: dict[str, str], store: Store) -> _Run:
    clock = Clock(scenario.at)
    engine = Engine(store, config, wake=lambda: None, clock=clock)
    by_name = config.check_by_name
    # The failing checks, and every parent they hang from: those run; no other can matter.
    graph = engine.quiet.static().graph
    running = dict.fromkeys(failing)
    for name in failing:
        running.update(dict.fromkeys(core_quiet.ancestors(graph, name)))
    stands = {
        name: Stand(by_name[name], plugins.load("checks", by_name[name].type).kind)
        for name in running
    }
    monitor = Monitor(store, engine, stands, clock=clock)  # type: ignore[arg-type]
    scheduler = VirtualScheduler(clock)
    monitor.scheduler = scheduler  # type: ignore[assignment]
    for name, stand in stands.items():
        every = stand.config.interval
        # Everything was fine up to `at`: the failing checks' first failing run is then, the
        # others ran then and go on at their interval.
        monitor.states[name] = CheckState(since=scenario.at - every, last_check_at=scenario.at)
        scheduler.add(name, every, scenario.at if name in failing else scenario.at + every)
    async with store.read() as conn:
        times = await engine.quiet.times(conn, scenario.at)
    ends = [t for t, edge, _ in times.edges(scenario.at, scenario.at + HORIZON) if edge == "end"]
    return _Run(config, scenario, failing, store, clock, engine, monitor, scheduler, ends)


async def _loop(sim: _Run) -> str:
    """Move the clock from one due instant to the next until nothing more can happen; returns
    why it stopped ("settled" or "horizon")."""
    end = sim.scenario.at + HORIZON
    for _ in range(MAX_EVENTS):
        now = sim.clock()
        candidates = [
            t
            for t in (
                sim.scheduler.next_at(),
                sim.acks[0][0] if sim.acks else None,
                await _next_step(sim.store, now),
                await _next_delivery(sim.store),
                next((t for t in sim.ends if t > now), None),
            )
            if t is not None
        ]
        if not candidates or await _settled(sim, now):
            return "settled"
        when = max(min(candidates), now)
        if when > end:
            return "horizon"
        sim.clock.now = when
        await _at(sim, when)
    return "horizon"


async def _at(sim: _Run, now: datetime) -> None:
    """Everything due at `now`: check runs, quiet times ending, acknowledgements, due steps."""
    while (due := sim.scheduler.next_at()) is not None and due <= now:
        await _run_check(sim, sim.scheduler.pop(), now)
    if now in sim.ends:
        await sim.engine.release(now)
    while sim.acks and sim.acks[0][0] <= now:
        _, incident_id = heapq.heappop(sim.acks)
        async with sim.store.write() as conn:
            row = await service.get(conn, incident_id)
            if row.status == "triggered":
                await service.acknowledge(
                    conn, incident_id, by=sim.scenario.by, now=now, how="(simulated)"
                )
    await sim.engine.tick()
    await _deliver(sim.store, now)
    await _queue_acks(sim)


async def _deliver(store: Store, now: datetime) -> None:
    """The dispatcher's part, every send succeeding: the rows due by `now` are delivered, or
    muted when they page an incident no longer triggered (notify/delivery.py). Who is told of an
    acknowledgement or a resolution depends on it (incidents/outbox.py `paged_targets`)."""
    status = (
        select(incidents.c.status).where(incidents.c.id == outbox.c.incident_id).scalar_subquery()
    )
    due = and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
    async with store.write() as conn:
        pages = outbox.c.event.in_(PAGE_EVENTS)
        await conn.execute(
            update(outbox).where(due, pages, status != "triggered").values(status="muted")
        )
        await conn.execute(
            update(outbox).where(due).values(status="delivered", attempts=1, delivered_at=now)
        )


async def _next_delivery(store: Store) -> datetime | None:
    async with store.read() as conn:
        return (
            await conn.execute(
                select(func.min(outbox.c.next_attempt_at)).where(outbox.c.status == "pending")
            )
        ).scalar()


async def _run_check(sim: _Run, name: str, now: datetime) -> None:
    before = dict(sim.monitor.states)
    status = sim.answer(name)
    summary = FAILED if status.is_problem else ANSWERS
    passive = name in sim.monitor.deps.passive
    params = Settings.immediate(sim.config.check_by_name[name].interval) if passive else None
    await sim.monitor.on_result(name, Result(status, summary, at=now), params=params)
    while sim.monitor._refeeds:  # passive dependants judged again, as tasks (runner.py)
        for task in list(sim.monitor._refeeds):
            await task
    for check, state in sim.monitor.states.items():
        old = before.get(check)
        if old is None or _moved(old, state):
            threshold = _threshold(sim.config.check_by_name[check], state, passive)
            found = outcome.change(now, check, old, state, threshold, check == name)
            became = old is None or not old.hard or old.status is not state.status
            if became and state.hard and state.status in OWN_PROBLEMS:
                note, until = await _unopened_why(sim, check, now)
                found = replace(found, note=note, until=until)
            sim.changes.append(found)


async def _unopened_why(sim: _Run, check: str, now: datetime) -> tuple[str, datetime | None]:
    """Why a check's hard failure opened no incident ("" when one is open for it), and until
    when that holds (a quiet time's end; None: for good)."""
    labels = dict(sim.config.check_by_name[check].labels)
    async with sim.store.read() as conn:
        if await rows.find_open(conn, check) is not None:
            return "", None
        held = (await sim.engine.quiet.times(conn, now)).of(check, labels, now)
    if held is not None:
        return f"no incident yet: {', '.join(held.why)}", held.until
    return "no incident: no rule matches this check, nobody would be paged", None


def _moved(old: CheckState, new: CheckState) -> bool:
    return (old.status, old.hard, old.attempts, old.pending) != (
        new.status,
        new.hard,
        new.attempts,
        new.pending,
    )


def _threshold(config: CheckConfig, state: CheckState, passive: bool) -> int:
    """How many results in a row the pending change needs (retries, or recover_after)."""
    if passive:
        return 1
    leaning = state.pending if not state.hard else None
    return config.recover_after if leaning is Status.OK else config.retries


async def _queue_acks(sim: _Run) -> None:
    if sim.scenario.ack_after is None:
        return
    async with sim.store.read() as conn:
        rows = (await conn.execute(select(incidents.c.id, incidents.c.opened_at))).all()
    for row in rows:
        if row.id not in sim.asked:
            sim.asked.add(row.id)
            heapq.heappush(sim.acks, (row.opened_at + sim.scenario.ack_after, row.id))


async def _next_step(store: Store, now: datetime) -> datetime | None:
    """When the next escalation step or re-trigger of an open incident is due after `now`
    (one held by a quiet time waits for the quiet time's end, a separate instant)."""
    async with store.read() as conn:
        return (
            await conn.execute(
                select(func.min(incidents.c.next_step_at)).where(
                    incidents.c.status.in_(OPEN), incidents.c.next_step_at > now
                )
            )
        ).scalar()


async def _settled(sim: _Run, now: datetime) -> bool:
    """Whether nothing more can happen: no acknowledgement, step or re-trigger to come, no
    failure waiting for a quiet time to end, and every check's state agrees with its answers."""
    if sim.acks or await _next_step(sim.store, now) is not None:
        return False
    if await _next_delivery(sim.store) is not None:
        return False
    recover_at = sim.scenario.recover_at
    if recover_at is not None and now < recover_at:
        return False
    if sim.monitor.deps.held:
        return False
    for name, state in sim.monitor.states.items():
        answer = sim.answer(name)
        if not state.hard or answer.is_problem != state.status.is_problem:
            return False
    if any(t > now for t in sim.ends):
        async with sim.store.read() as conn:
            if await quiet.unopened(conn):
                return False
    return True
