"""The escalation engine: transitions in, incidents and outbox rows out, and the timer tick.

`on_transition` writes the check's new hard state and the incident change in ONE transaction,
then enqueues any step due now (level 0 with `after = "0m"` is paged at once, not at the next
tick). `tick` fires the steps whose time has come; the timers (`next_step_at`) live in the
store, so a restart picks up exactly where the previous process stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from escalatord.checks.base import Status
from escalatord.config.model import Config
from escalatord.escalation import policy as planning
from escalatord.escalation import rules
from escalatord.incidents import service
from escalatord.monitor.state import CheckState, Transition
from escalatord.store import states as state_store
from escalatord.store.db import Store

log = structlog.get_logger("escalatord.engine")


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

    def update_config(self, config: Config) -> None:
        """Rules and policies for incidents opened from now on; running ones keep their copy."""
        self.config = config

    async def on_transition(
        self, tr: Transition, state: CheckState, extra: dict[str, Any]
    ) -> int | None:
        """Apply a hard change of one check; returns the incident id it touched, if any."""
        check = self.config.check_by_name.get(tr.check)
        labels = dict(check.labels) if check else {}
        now = self.clock()
        incident_id: int | None = None
        async with self.store.write() as conn:
            await state_store.save(conn, [(tr.check, state, extra)])
            if tr.current is Status.OK:
                incident_id = await service.resolve_key(conn, tr.check, now=now, summary=tr.summary)
            else:
                incident_id = await service.note_change(
                    conn, tr.check, now=now, status=tr.current.value, summary=tr.summary
                )
                if incident_id is None:
                    incident_id = await self._open(conn, tr, labels, now)
            await service.fire_due_steps(conn, now, lock=self.store.for_update)
        log.info(
            "transition",
            check=tr.check,
            previous=tr.previous.value,
            current=tr.current.value,
            summary=tr.summary,
            incident=incident_id,
        )
        self.wake()
        return incident_id

    async def _open(
        self, conn: Any, tr: Transition, labels: dict[str, str], now: datetime
    ) -> int | None:
        decision = rules.match(self.config.rules, labels, tr.check, tr.current)
        if decision is None:
            log.warning(
                "no_rule_matched",
                check=tr.check,
                status=tr.current.value,
                hint="add a [[rule]] that matches this check's labels to be paged",
            )
            return None
        snap = None
        if decision.policy is not None:
            snap = planning.snapshot(self.config.policy_by_name[decision.policy])
        incident_id, created = await service.open_incident(
            conn,
            key=tr.check,
            check=tr.check,
            labels=labels,
            status=tr.current.value,
            summary=tr.summary,
            decision=decision,
            policy_snapshot=snap,
            now=now,
        )
        if created:
            log.warning(
                "incident_opened",
                incident=incident_id,
                check=tr.check,
                severity=decision.severity,
                policy=decision.policy,
            )
        return incident_id

    async def tick(self) -> int:
        """Fire every escalation step that is due; returns outbox rows enqueued."""
        async with self.store.write() as conn:
            enqueued = await service.fire_due_steps(conn, self.clock(), lock=self.store.for_update)
        if enqueued:
            self.wake()
        return enqueued

    async def run(self) -> None:
        """Tick every `[daemon] tick` until cancelled; a failing tick is logged and retried."""
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("tick_failed")
            await asyncio.sleep(self.config.daemon.tick.total_seconds())
