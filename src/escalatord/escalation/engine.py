"""The escalation engine: transitions in, incidents and outbox rows out, and the timer tick.

`on_transition` writes the check's new hard state and the incident change in ONE transaction
(shared with the transitions that arrive at the same moment), then enqueues any step due now
(level 0 with `after = "0m"` is paged at once, not at the next tick). `tick` fires the steps
whose time has come; the timers (`next_step_at`) live in the store, so a restart
picks up exactly where the previous process stopped.

`on_alerts` is the entry for alerts other tools send (Alertmanager, PagerDuty-shaped events):
they are matched by the same rules, deduplicated by their key and escalated by the same
policies as checks, but they are not checks and have no state machine of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from escalatord.core import grouping, planning, rules, topology
from escalatord.core.alerts import AlertOutcome, ExternalAlert
from escalatord.core.state import CheckState, Transition
from escalatord.core.status import Status
from escalatord.escalation import flapping as flaps
from escalatord.escalation import quiet
from escalatord.escalation.recipients import ConfigResolver
from escalatord.incidents import alerts, rootcause, service
from escalatord.store import states as state_store
from escalatord.store.db import Store
from escalatord.store.groupcommit import GroupCommit

if TYPE_CHECKING:
    from escalatord.config.model import Config  # handed in by app.py

log = structlog.get_logger("escalatord.engine")


@dataclass(frozen=True)
class _Change:
    """One transition as handed to the engine, with the time it arrived."""

    tr: Transition
    state: CheckState
    extra: dict[str, Any]
    cascaded: tuple[tuple[Transition, CheckState], ...]
    affected: dict[str, Sequence[str]]
    now: datetime


class Engine:
    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        wake: Callable[[], None],
        clock: Callable[[], datetime] | None = None,
    ):
        self.store = store
        self.config = config
        self.wake = wake
        self.clock = clock or (lambda: datetime.now(UTC))
        # Who a level pages is resolved when it fires, from the config of that moment (a
        # reload included) and the stored rota overrides; the dispatcher is handed it too.
        self.resolver = ConfigResolver(lambda: self.config)
        # Maintenance windows (config) and silences (stored): no incident opens for a quiet
        # check and a quiet incident's levels wait (escalation/quiet.py).
        self.quiet = quiet.QuietView(lambda: self.config)
        self._parents: tuple[Config, frozenset[str]] | None = None  # see _grouping
        self._changes: GroupCommit[_Change, int | None] = GroupCommit(
            store, self._apply_change, after=self._fire_after_changes, name="engine-transitions"
        )
        # Whether this node may tick: False while a node of a cluster does not hold its lease
        # (monitor/cluster.py); another node ticks then.
        self.active: Callable[[], bool] = lambda: True

    def update_config(self, config: Config) -> None:
        """Rules and policies for incidents opened from now on; running ones keep their copy.
        Persons, teams and schedules are read anew by every level that fires from now on."""
        self.config = config

    async def on_transition(
        self,
        tr: Transition,
        state: CheckState,
        extra: dict[str, Any],
        *,
        cascaded: Sequence[tuple[Transition, CheckState]] = (),
        affected: Mapping[str, Sequence[str]] | None = None,
    ) -> int | None:
        """Apply a hard change of one check; returns the incident id it touched, if any.

        `cascaded`: dependants that became unreachable with it (core/topology.py), stored in
        the same transaction. `affected`: for each root-cause check, the checks it now makes
        unreachable; written into its open incident BEFORE due steps fire, so the first page of
        a root-cause incident already lists them.

        Returns once the change is committed and raises if it was not. Changes that arrive
        together (a storm) share one transaction and one `fire_due_steps` (store/groupcommit.py);
        each keeps the time it arrived at (`opened_at`, timeline).
        """
        change = _Change(tr, state, extra, tuple(cascaded), dict(affected or {}), self.clock())
        incident_id = await self._changes.submit(change)
        for t in (tr, *(c for c, _ in cascaded)):
            log.info(
                "transition",
                check=t.check,
                previous=t.previous.value,
                current=t.current.value,
                summary=t.summary,
                incident=incident_id if t is tr else None,
            )
        self.wake()
        return incident_id

    async def _apply_change(self, conn: Any, change: _Change) -> int | None:
        """One transition's writes, inside a shared transaction (see on_transition)."""
        tr, now = change.tr, change.now
        check = self.config.check_by_name.get(tr.check)
        labels = dict(check.labels) if check else {}
        incident_id: int | None = None
        states = [(c.check, s, {}) for c, s in change.cascaded]
        await state_store.save(conn, [(tr.check, change.state, change.extra), *states])
        if tr.flapping is not None or change.state.flapping:
            incident_id = await self._flapping(conn, tr, change.state, labels, now)
        else:
            incident_id = await self._hard_change(conn, tr, labels, now)
        for dep, _ in change.cascaded:
            await service.note_change(
                conn, dep.check, now=now, status=dep.current.value, summary=dep.summary
            )
        for root, names in change.affected.items():
            await rootcause.set_affected(
                conn, root, rootcause.entries(names, self._sites(names)), now=now
            )
        return incident_id

    async def _hard_change(
        self, conn: Any, tr: Transition, labels: dict[str, str], now: datetime
    ) -> int | None:
        """A check's hard status changed (or it stopped flapping): open, note or resolve."""
        if tr.current is Status.OK:
            return await service.resolve_key(conn, tr.check, now=now, summary=tr.summary)
        incident_id = await service.note_change(
            conn, tr.check, now=now, status=tr.current.value, summary=tr.summary
        )
        # Unreachable behind a down parent: no incident of its own, no page.
        if incident_id is None and tr.current is not Status.UNREACHABLE:
            incident_id = await self._open(conn, tr, labels, now)
        return incident_id

    async def _flapping(
        self, conn: Any, tr: Transition, state: CheckState, labels: dict[str, str], now: datetime
    ) -> int | None:
        """Flapping started or stopped, or a hard change while flapping (escalation/flapping.py)."""
        if tr.flapping:
            opened = await self._open(conn, tr, labels, now, flaps.opening(tr, state))
            await flaps.started(conn, tr, opened, now)
            return opened
        if tr.flapping is None:
            return await flaps.changed(conn, tr, state, now)
        await flaps.stopped(conn, tr, state, now)
        return await self._hard_change(conn, tr, labels, now)

    async def _fire_after_changes(self, conn: Any, changes: Sequence[_Change]) -> None:
        # Once per transaction, after every change in it: a level-0 page of each new incident
        # is enqueued now, not at the next tick.
        now = max(change.now for change in changes)
        await service.fire_due_steps(
            conn, now, lock=self.store.for_update, resolver=self.resolver, held=self.quiet.held
        )

    def _sites(self, names: Sequence[str]) -> dict[str, str]:
        by_name = self.config.check_by_name
        return {n: by_name[n].labels.get("site", "") for n in names if n in by_name}

    async def _open(
        self,
        conn: Any,
        tr: Transition,
        labels: dict[str, str],
        now: datetime,
        spec: flaps.Opening | None = None,
    ) -> int | None:
        """Open the incident of `tr` through the rules: the check's problem, or as `spec` says
        (a flapping incident)."""
        # A check type may title its incident (a satellite's link: "boston satellite silent").
        title = getattr(self.config.check_by_name.get(tr.check), "incident_title", None)
        spec = spec or flaps.Opening(tr.check, tr.current, tr.summary, title=title)
        if await self.quiet.holds(conn, tr.check, labels, now):
            return None  # opened when its quiet time ends, if still failing (release)
        decision = rules.match(self.config.rules, labels, tr.check, spec.status)
        if decision is None:
            log.warning(
                "no_rule_matched",
                check=tr.check,
                status=spec.status.value,
                hint="add a [[rule]] that matches this check's labels to be paged",
            )
            return None
        # The incident keeps its category's priority of this moment (config/categories.py).
        decision = decision.with_priority({c.name: c.priority for c in self.config.categories})
        snap = None
        if decision.policy is not None:
            snap = planning.snapshot(self.config.policy_by_name[decision.policy])
        incident_id, created = await service.open_incident(
            conn,
            key=spec.key,
            check=tr.check,
            labels=labels,
            status=spec.status.value,
            summary=spec.summary,
            decision=decision,
            policy_snapshot=snap,
            now=now,
            title=spec.title,
            kind=spec.kind,
            grouping=self._grouping(decision, tr),
        )
        if created:
            log.warning(
                "incident_opened",
                incident=incident_id,
                check=tr.check,
                kind=spec.kind or "problem",
                severity=decision.severity,
                policy=decision.policy,
            )
        return incident_id

    def _grouping(self, decision: rules.Decision, tr: Transition) -> grouping.Grouping | None:
        """How a new incident of `tr` is grouped (a matched rule's `group_by`), if at all.

        A root-cause incident already covers its dependants (incidents/rootcause.py): a check
        that others depend on, opening down, is paged on its own, never grouped again."""
        if self._parents is None or self._parents[0] is not self.config:
            named = (n for c in self.config.checks for n in (*c.depends_on, *c.depends_on_any))
            self._parents = (self.config, frozenset(named))
        if tr.current in topology.DOWN and tr.check in self._parents[1]:
            return None
        return grouping.grouping_of(self.config.rules, decision.rules)

    async def on_alerts(self, alerts: Sequence[ExternalAlert]) -> list[AlertOutcome]:
        """Apply alerts in one transaction (an Alertmanager webhook carries a group of them)."""
        now = self.clock()
        outcomes: list[AlertOutcome] = []
        async with self.store.write() as conn:
            for alert in alerts:
                outcomes.append(await self._apply_alert(conn, alert, now))
            await service.fire_due_steps(
                conn, now, lock=self.store.for_update, resolver=self.resolver, held=self.quiet.held
            )
        for alert, done in zip(alerts, outcomes, strict=True):
            log.info(
                "alert",
                source=alert.source,
                name=alert.name,
                key=alert.key,
                action=alert.action,
                outcome=done.outcome,
                incident=done.incident,
            )
        self.wake()
        return outcomes

    async def _apply_alert(self, conn: Any, alert: ExternalAlert, now: datetime) -> AlertOutcome:
        if alert.action == "resolve":
            found = await service.resolve_key(
                conn, alert.key, by=alert.source, now=now, summary=alert.summary
            )
            return AlertOutcome(alert.key, "resolved" if found else "not_open", found)
        if alert.action == "acknowledge":
            found = await alerts.acknowledge_alert(conn, alert.key, by=alert.source, now=now)
            return AlertOutcome(alert.key, "acknowledged" if found else "not_open", found)
        decision = rules.match(self.config.rules, alert.labels, alert.name, alert.status)
        if decision is None:
            log.warning(
                "no_rule_matched",
                alert=alert.name,
                source=alert.source,
                status=alert.status.value,
                hint="add a [[rule]] that matches this alert's labels to be paged",
            )
            return AlertOutcome(alert.key, "no_rule")
        # The incident keeps its category's priority of this moment (config/categories.py).
        decision = decision.with_priority({c.name: c.priority for c in self.config.categories})
        snap = None
        if decision.policy is not None:
            snap = planning.snapshot(self.config.policy_by_name[decision.policy])
        incident_id, created = await alerts.raise_alert(
            conn,
            key=alert.key,
            check=alert.name,
            title=alert.title or f"{alert.name} is {alert.status.value.upper()}",
            labels=alert.labels,
            status=alert.status.value,
            summary=alert.summary,
            runbook=alert.runbook,
            decision=decision,
            policy_snapshot=snap,
            now=now,
            source=alert.source,
        )
        return AlertOutcome(alert.key, "opened" if created else "updated", incident_id)

    async def tick(self) -> int:
        """Re-trigger acknowledged incidents whose acknowledgement ran out (`ack_timeout`, a
        snooze), then fire every escalation step that is due (level 0 of a restarted ladder
        included, in the same transaction); returns outbox rows enqueued."""
        now = self.clock()
        async with self.store.write() as conn:
            again = await service.retrigger_due(conn, now, lock=self.store.for_update)
            enqueued = await service.fire_due_steps(
                conn, now, lock=self.store.for_update, resolver=self.resolver, held=self.quiet.held
            )
        for incident_id in again:
            log.warning("incident_retriggered", incident=incident_id)
        if enqueued:
            self.wake()
        return enqueued

    async def release(self, at: datetime | None = None) -> list[int]:
        """Open the incidents a quiet time held back (escalation/quiet.py `unopened`) of the
        checks not quiet any more at `at` (default now), and page their first level at once.
        Run when a window or silence ends and at start; returns the incidents opened."""
        now = max(self.clock(), at) if at is not None else self.clock()
        opened: list[int] = []
        async with self.store.write() as conn:
            for check, status, summary in await quiet.unopened(conn):
                if check not in self.config.check_by_name:
                    continue  # removed from the config while it was quiet
                tr = Transition(check, Status.OK, status, now, summary)
                found = await self._open(conn, tr, self.quiet.labels(check), now)
                if found is not None:
                    opened.append(found)
            if opened:
                await service.fire_due_steps(
                    conn,
                    now,
                    lock=self.store.for_update,
                    resolver=self.resolver,
                    held=self.quiet.held,
                )
        if opened:
            log.warning("quiet_ended_still_failing", incidents=opened)
            self.wake()
        return opened

    async def run(self) -> None:
        """Tick every `[daemon] tick` until cancelled; a failing tick is logged and retried."""
        while True:
            try:
                if self.active():
                    await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("tick_failed")
            await asyncio.sleep(self.config.daemon.tick.total_seconds())
