"""Runs checks and feeds their results through the state machine to the engine.

States are kept in memory (loaded from the store at start) and written back in batches once
a second; a hard change is written at once, together with its incident, by the engine.

Passive checks (`Check.kind == "passive"`, e.g. heartbeats) are not probed: on schedule their
`evaluate(store, now)` judges the signals stored for them, and signals arriving over HTTP are
fed in through `on_passive()`. Both give a result and the state-machine settings for it, and
when the verdict changes by time alone (a deadline): the check's next run is moved there.

In a cluster (monitor/cluster.py) a node runs only the checks it `owns`: monitor/handover.py
hands it its share when the live nodes change, loading the states of the checks it takes over
from the store first, so they go on from where their previous owner left them. Results of checks it
does not own (a probe that ended after its check moved, a heartbeat ping or a trap received
here) are not judged here: the signal is in the store, and the owner judges it.
"""

from __future__ import annotations

import asyncio
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from escalatord.checks.base import Check, CheckConfig, execute
from escalatord.core import flapping
from escalatord.core.state import (
    CheckState,
    Params,
    Settings,
    Transition,
    hold,
    next_delay,
    step,
)
from escalatord.core.status import Judged, Result, Status
from escalatord.core.topology import Reach
from escalatord.escalation.engine import Engine
from escalatord.monitor.dependencies import Dependencies
from escalatord.monitor.overload import Overload
from escalatord.monitor.probes import ProbePool
from escalatord.monitor.scheduler import CheckScheduler
from escalatord.store import states as state_store
from escalatord.store.db import Store

log = structlog.get_logger("escalatord.monitor")
# A passive check is judged this long after its deadline: lateness is strictly after it, and
# the timer heap may fire a run up to a millisecond early.
PAST_DEADLINE = timedelta(milliseconds=10)
# States written per transaction by a flush: the writer is free again between chunks.
FLUSH_CHUNK = 2_000


class Monitor:
    # `[daemon] probe_workers`: active checks run in these worker processes (App sets it).
    probes: ProbePool | None = None

    def __init__(
        self,
        store: Store,
        engine: Engine,
        checks: Mapping[str, Check],
        *,
        clock: Callable[[], datetime] | None = None,
    ):
        self.store = store
        self.engine = engine
        self.checks = dict(checks)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.states: dict[str, CheckState] = {}
        self.extra: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()
        self._flushing = asyncio.Lock()  # one flush at a time: a stop's waits for the loop's
        # One result at a time per check: a scheduled evaluation and a heartbeat ping (or a
        # result and the transition it causes) must not interleave and apply out of order.
        self._locks: dict[str, asyncio.Lock] = {}
        self.scheduler = CheckScheduler(self.run_check, prompt=self._is_passive)
        self.overload = Overload(self.scheduler)  # /healthz, /metrics, the log (issue 17)
        self.deps = Dependencies((c.config for c in self.checks.values()), _passive(self.checks))
        self._refeeds: set[asyncio.Task[None]] = set()
        self._fed: dict[str, int] = {}  # results fed from outside (traps, pings), per check
        self.completed = 0
        # Names of the checks flapping now (core/flapping.py), for /metrics without a scan.
        self.flapping: set[str] = set()
        # The checks this node runs: None, every check (a single node); in a cluster its
        # share, set by assign() (empty until the node holds a lease).
        self.owned: set[str] | None = None

    async def load(self) -> None:
        async with self.store.read() as conn:
            for name, (state, extra) in (await state_store.load(conn)).items():
                self.states[name] = state
                self.extra[name] = extra
                if state.flapping:
                    self.flapping.add(name)

    def owns(self, name: str) -> bool:
        """Whether this node runs and judges check `name` (always, on a single node)."""
        return self.owned is None or name in self.owned

    def schedule(self, configs: Iterable[CheckConfig]) -> None:
        """Make the scheduler's jobs those of `configs` this node owns (start and reload)."""
        self.scheduler.set_checks(c for c in configs if self.owns(c.name))

    def adopt(self, name: str, state: CheckState, extra: dict[str, Any]) -> None:
        """Take `state` as check `name`'s: read from the store by a node of a cluster taking
        the check over (monitor/handover.py), it is newer than what this node held."""
        self._dirty.discard(name)
        self.states[name], self.extra[name] = state, extra
        (self.flapping.add if state.flapping else self.flapping.discard)(name)

    async def relay(self, name: str, at: datetime, judged: Judged) -> bool:
        """Apply the judgement of a passive signal that arrived at `at` at another node of the
        cluster (monitor/handover.py `catch_up`); False when this node does not own the check
        or has judged it since."""
        async with self._lock(name):
            state = self.states.get(name)
            if not self.owns(name) or (state and state.last_check_at and state.last_check_at >= at):
                return False
            if judged.fed is not None:
                self._fed[name] = self._fed.get(name, 0) + 1
                await self._apply(name, *judged.fed)
            self._wake_at(name, judged.wake)
        return True

    async def run_check(self, name: str) -> None:
        check = self.checks.get(name)
        if check is None or not self.owns(name):  # removed by a reload, or moved away
            return
        if check.kind == "passive":
            await self._evaluate_passive(name, check)
            return
        fed = self._fed.get(name, 0)
        stalled = self.scheduler.lag.lost()
        if self.probes is None:
            result = await execute(check, None)
        else:
            result = await self.probes.run(check)
            check.absorb(result)  # the daemon's own object learns what the worker found
        if self.overload.blames(check.config, result, stalled):
            return  # timed out while the daemon stalled: its overload, not the target's
        if self._fed.get(name, 0) != fed:
            # A trap set the check while this probe ran (linkDown/linkUp): what the trap says
            # is newer than what the probe may have seen, so the probe's answer is dropped.
            # The trap's result already asked for the next poll (after retry_interval).
            log.info("probe_result_superseded", check=name, by="a result fed during the probe")
            return
        if not self.owns(name):  # moved to another node (or this one fenced) while it ran
            return
        await self.on_result(name, result)

    def _is_passive(self, name: str) -> bool:
        return name in self.deps.passive

    def _lock(self, name: str) -> asyncio.Lock:
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = asyncio.Lock()
        return lock

    async def _evaluate_passive(self, name: str, check: Check) -> None:
        # The lock spans the read of the signals and the apply, so a ping that arrives in
        # between is applied after this (older) verdict, never before it.
        async with self._lock(name):
            if not self.owns(name):
                return
            try:
                judged = await check.evaluate(self.store, self.clock())  # type: ignore[attr-defined]
            except asyncio.CancelledError:
                raise
            except Exception:  # the store is failing: judge again on the next run
                log.exception("passive_evaluation_failed", check=name)
                return
            if judged.fed is not None:
                await self._apply(name, *judged.fed)
            self._wake_at(name, judged.wake)

    async def on_passive(
        self, name: str, fed: tuple[Result, Params] | None, *, wake: datetime | None = None
    ) -> None:
        """Feed a passive check's result with its own state-machine settings (None: nothing
        new to count); `wake`: when its verdict next changes by time alone (a heartbeat's
        new deadline), where its next run is moved. Also how traps set a polled check: a
        probe of it in flight meanwhile is then not applied (run_check)."""
        if fed is None and wake is None:
            return
        if not self.owns(name):
            # Another node of the cluster judges this check: a heartbeat's signal is in the
            # store, where the owner reads it (handover.py); a trap is not (docs/cluster.md).
            log.debug("passive_result_for_other_node", check=name)
            return
        if fed is not None:
            self._fed[name] = self._fed.get(name, 0) + 1
        async with self._lock(name):
            if fed is not None:
                await self._apply(name, *fed)
            self._wake_at(name, wake)

    def _wake_at(self, name: str, wake: datetime | None) -> None:
        """Run passive check `name` just after `wake`, or after its interval if that is sooner
        (None: keep its interval). Called under its lock, in the order judgements apply, so
        a newer signal's deadline is never replaced by an older one."""
        check = self.checks.get(name)
        if wake is None or check is None:
            return
        delay = wake - self.clock() + PAST_DEADLINE
        self.scheduler.run_at(name, min(delay, check.config.interval))

    async def on_result(self, name: str, result: Result, *, params: Params | None = None) -> None:
        """Feed one result through the state machine; `params` (default: the check's config)
        says how many results make a change hard."""
        async with self._lock(name):
            await self._apply(name, result, params)

    async def _apply(self, name: str, result: Result, params: Params | None) -> None:
        check = self.checks.get(name)
        if check is None:
            return
        params = params or check.config
        self.completed += 1
        now = result.at or self.clock()
        state = self.states.get(name, CheckState())
        status, summary = result.status, result.summary
        verdict = self.deps.judge(name, status, self.states, now)
        if verdict is not None and verdict.reach is Reach.UNREACHABLE:
            status, summary = Status.UNREACHABLE, f"{', '.join(verdict.down)} down: {summary}"
        new, transition = step(name, state, status, summary, params, now)
        if status is not result.status:  # unreachable: keep what the probe itself said
            new = replace(new, last_status=result.status)
        if transition is not None and self.deps.should_hold(name, transition, verdict, now):
            # A parent is not confirmed up or down yet: hold the failure back, ask the parent.
            assert verdict is not None
            new, transition = hold(state, status, summary, params, now), None
            for parent in self.deps.to_probe(verdict, self.states, now):
                self.scheduler.run_now(parent)
        elif transition is not None or not status.is_problem:
            self.deps.release(name)
        new, changed = self._flap(name, state, new, transition, status, check.config, now)
        self.states[name] = new
        self.extra[name] = {
            "duration": round(result.duration, 6),
            "measurements": result.measurements or None,
        }
        if changed is not None:
            await self._transition(name, state, new, changed, now)
        else:
            self._dirty.add(name)
        self.scheduler.reschedule(name, next_delay(new, params))
        for dependant in self.deps.to_rerun(name, transition, self.states):
            if dependant in self.deps.passive:
                self._refeed(dependant)
            else:
                self.scheduler.run_now(dependant)

    def _flap(
        self,
        name: str,
        old: CheckState,
        new: CheckState,
        transition: Transition | None,
        status: Status,
        params: flapping.FlapParams,
        now: datetime,
    ) -> tuple[CheckState, Transition | None]:
        """`new` with this result in its flap history, and the transition for the engine: the
        hard change (if any) with `flapping` set when flapping started or stopped with it."""
        new = flapping.update(new, status, params)
        if new.flapping is old.flapping:
            return new, transition
        if new.flapping:
            self.flapping.add(name)
        else:
            self.flapping.discard(name)
        if transition is None:  # flapping alone changed: the hard status stays
            transition = Transition(name, new.status, new.status, now, new.last_summary)
        return new, replace(transition, flapping=new.flapping)

    def _refeed(self, name: str) -> None:
        """Judge a passive dependant again on its last signal: running it would give nothing
        new (it has no probe), and it must not stay unreachable until its next trap or ping."""

        async def refeed() -> None:
            async with self._lock(name):
                state = self.states.get(name)
                if not self.owns(name) or state is None or state.last_status is None:
                    return
                if state.status is not Status.UNREACHABLE and name not in self.deps.held:
                    return
                summary = state.last_summary.split(" down: ", 1)[-1]
                # The signal was already judged by the check's own rules (failures, traps):
                # it counts at once, like the passive result it was.
                now = self.clock()
                params = Settings.immediate(self.checks[name].config.interval)
                await self._apply(name, Result(state.last_status, summary, at=now), params)

        task = asyncio.create_task(refeed(), name=f"refeed:{name}")
        self._refeeds.add(task)
        task.add_done_callback(self._refeeds.discard)

    async def _transition(
        self, name: str, old: CheckState, new: CheckState, tr: Transition, now: datetime
    ) -> None:
        """Hand a hard change to the engine with its effects on dependants and root causes."""
        self._dirty.discard(name)
        # A change of flapping alone changes nothing for dependants or root causes.
        cascaded = self.deps.cascade(name, tr, self.states, now) if tr.hard_change else []
        # The states as they were before this change, without copying 10,000 of them.
        replaced = {name: old, **{t.check: self.states[t.check] for t, _ in cascaded}}
        before = ChainMap(replaced, self.states)
        for dep_tr, dep_state in cascaded:
            self.states[dep_tr.check] = dep_state
            self._dirty.discard(dep_tr.check)
        affected = self.deps.affected_roots(name, before, self.states) if tr.hard_change else {}
        try:
            await self.engine.on_transition(
                tr, new, self.extra[name], cascaded=cascaded, affected=affected
            )
        except Exception:
            # The store is failing: keep the old states so the change is retried next run.
            self.states.update(replaced)
            (self.flapping.add if old.flapping else self.flapping.discard)(name)
            log.exception("transition_failed", check=name)

    def replace_checks(self, checks: Mapping[str, Check]) -> None:
        """Swap the running checks (reload). States are kept, also for checks that leave: one
        disabled and enabled again must still know it was down, so its recovery resolves."""
        self.checks = dict(checks)
        self.deps.set_checks((c.config for c in self.checks.values()), _passive(self.checks))

    async def flush(self) -> None:
        """Write every state changed since the last flush, FLUSH_CHUNK states a transaction.

        Coalesced: a check that changed many times since is written once, as it is now. Cut
        into chunks so that a flush of 80,000 states never holds the one writer for long:
        ticks, pages and transitions take their turns between the chunks (store/db.py). A
        flush under way (the loop's, shielded from a stop) is waited for, then this one runs."""
        async with self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        names, self._dirty = self._dirty, set()
        pending = [n for n in names if n in self.states]
        for start in range(0, len(pending), FLUSH_CHUNK):
            chunk = pending[start : start + FLUSH_CHUNK]
            # Read when its turn comes: a state changed meanwhile is written as it is then.
            try:
                async with self.store.write() as conn:
                    batch = [(n, self.states[n], self.extra.get(n, {})) for n in chunk]
                    await state_store.save(conn, batch)
            except BaseException:
                self._dirty.update(pending[start:])
                raise

    async def flush_loop(self, every: float = 1.0) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                # Shielded: a stop cancels this loop, not a transaction half done (its
                # connection would keep the write lock from the final flush).
                await asyncio.shield(self.flush())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("state_flush_failed")


def _passive(checks: Mapping[str, Check]) -> list[str]:
    return [name for name, check in checks.items() if check.kind == "passive"]
