"""The daemon's calendar: jobs at wall-clock instants, on APScheduler 3.11's AsyncIOScheduler
in the daemon's loop. (The checks do not run here: they stay on monitor/'s timer heap.)

Jobs, rebuilt from the config at start and at every reload (the in-memory job store):
- `retention`: every day at 03:30 in the machine's local time zone (what tzlocal finds: TZ,
  else /etc/localtime; UTC on most servers), calendar/retention.py.
- `handoff:<schedule>`, one per schedule with `handoff_notice = true`: a DateTrigger at the
  schedule's next handoff, in its time zone; each run announces that handoff
  (calendar/handoffs.py) and places the job at the next one.
- `quiet-recheck` and `quiet:…`: the starts and ends of maintenance windows and silences
  (calendar/quiet.py), placed with `place`.
- `handoffs-recheck`: every minute (and at start and reload) the next handoff of each such
  schedule is computed again and its job moved if it changed: run-time overrides are written
  by `escalatord oncall override`, another process. Handoffs up to `LOOKBACK` in the past
  that this run has not announced are announced at once, so a daemon down during a handoff
  (a restart, a deploy) still tells the incoming person; the outbox key makes a repeat
  impossible.

APScheduler's own pitfalls (shared/DEPENDENCY-NOTES.md): `shutdown()` cancels coroutines in
flight whatever `wait=` says, so each job's body runs in a task of ours, shielded from that
cancel, and `stop()` drains them; its two INFO lines per run are silenced (WARNING).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from escalatord.calendar import retention
from escalatord.calendar.handoffs import Rota, enqueue, next_handoff, notices_at
from escalatord.core.oncall import HORIZON, Override
from escalatord.people.overrides import in_force
from escalatord.store.db import Store

log = structlog.get_logger("escalatord.calendar")

LOOKBACK = timedelta(minutes=15)  # a handoff missed by up to this long is still announced
RECHECK = 60.0  # seconds between looks at the stored overrides
RETENTION_AT = {"hour": 3, "minute": 30}
_PREFIX = "handoff:"


@dataclass(frozen=True)
class Plan:
    """What the calendar runs, built from the config by app.py: the retention and the
    schedules whose handoffs are announced."""

    retention: timedelta = timedelta(days=400)
    rotas: tuple[Rota, ...] = field(default=())

    def rota(self, name: str) -> Rota | None:
        return next((r for r in self.rotas if r.schedule.name == name), None)


class Calendar:
    """Runs the jobs of `plan` (module docstring). `wake()` is called after notices were
    enqueued (the dispatcher's); `clock` is the time the jobs reason with.
    Counters: `handoff_runs` (handoff jobs finished), `notices` (rows inserted)."""

    def __init__(
        self,
        store: Store,
        plan: Plan,
        *,
        wake: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] | None = None,
        recheck: float = RECHECK,
    ):
        self.store = store
        self.plan = plan
        self.wake = wake
        self.clock = clock or (lambda: datetime.now(UTC))
        self.recheck = recheck
        self.handoff_runs = 0
        self.notices = 0
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._tasks: set[asyncio.Task[None]] = set()
        self._announced: dict[str, datetime] = {}  # schedule -> last handoff handled here
        self._lock = asyncio.Lock()  # one handoff computation at a time: no job placed twice

    def start(self) -> None:
        """Start the scheduler in the running loop with the retention and recheck jobs."""
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self._scheduler.start()
        self._scheduler.add_job(
            self._job,
            CronTrigger(**RETENTION_AT),  # no zone given: the machine's local one
            args=["retention", self._retention],
            id="retention",
            # Run late rather than skip a night when the loop was busy or the clock jumped.
            misfire_grace_time=3600,
            coalesce=True,
            max_instances=1,
        )
        self._scheduler.add_job(
            self._job,
            IntervalTrigger(seconds=self.recheck),
            args=["handoffs-recheck", self._replace_all],
            id="handoffs-recheck",
            next_run_time=datetime.now(UTC),
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
        )

    def configure(self, plan: Plan) -> None:
        """Apply a reloaded config: handoff jobs are placed again from it, now."""
        self.plan = plan
        if self._scheduler.running:
            self._spawn("handoffs-recheck", self._replace_all)

    def place(
        self,
        job_id: str,
        trigger: BaseTrigger,
        body: Callable[..., Coroutine[Any, Any, None]],
        *args: Any,
        **options: Any,
    ) -> None:
        """Run `body(*args)` at `trigger` as job `job_id` (replacing one of that id), in a task
        of ours that `stop` drains; for the jobs of other modules (calendar/quiet.py)."""
        self._scheduler.add_job(
            self._job,
            trigger,
            args=[job_id, body, *args],
            id=job_id,
            replace_existing=True,
            **({"misfire_grace_time": None, "coalesce": True, "max_instances": 8} | options),
        )

    def remove(self, job_id: str) -> None:
        """Drop job `job_id` if it is placed."""
        if self._scheduler.get_job(job_id) is not None:
            self._scheduler.remove_job(job_id)

    def jobs(self) -> dict[str, datetime | None]:
        """Each job's id and next run (UTC): what `stop` would cancel, for tests and logs."""
        return {
            job.id: job.next_run_time.astimezone(UTC) if job.next_run_time else None
            for job in self._scheduler.get_jobs()
        }

    async def stop(self, grace: float) -> None:
        """Stop placing jobs; wait up to `grace` seconds for the ones running, then cancel."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self._tasks:
            _, late = await asyncio.wait(list(self._tasks), timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    # --- running job bodies -----------------------------------------------------------------

    async def _job(
        self, name: str, body: Callable[..., Coroutine[Any, Any, None]], *args: Any
    ) -> None:
        """What APScheduler runs: the body in a task of ours, which its shutdown cannot cut."""
        task = self._spawn(name, body, *args)
        await asyncio.shield(task)

    def _spawn(
        self, name: str, body: Callable[..., Coroutine[Any, Any, None]], *args: Any
    ) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._guarded(name, body, *args), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    async def _guarded(
        name: str, body: Callable[..., Coroutine[Any, Any, None]], *args: Any
    ) -> None:
        try:
            await body(*args)
        except asyncio.CancelledError:
            raise
        except Exception:  # the store was briefly unavailable: the next run tries again
            log.exception("calendar_job_failed", job=name)

    async def _retention(self) -> None:
        await retention.run(self.store, self.clock(), self.plan.retention)

    # --- handoffs ---------------------------------------------------------------------------

    async def _overrides(
        self, names: list[str], start: datetime
    ) -> dict[str, tuple[Override, ...]]:
        async with self.store.read() as conn:
            return await in_force(conn, names, start, start + HORIZON + HORIZON)

    async def _replace_all(self) -> None:
        """Place every handoff job at its schedule's next handoff; drop those of schedules
        gone from the config or whose notices were turned off."""
        async with self._lock:
            now = self.clock()
            wanted = {rota.schedule.name: rota for rota in self.plan.rotas}
            for job in self._scheduler.get_jobs():
                if job.id.startswith(_PREFIX) and job.id[len(_PREFIX) :] not in wanted:
                    job.remove()
            if not wanted:
                return
            stored = await self._overrides(list(wanted), now - LOOKBACK)
            for name, rota in wanted.items():
                since = max(now - LOOKBACK, self._announced.get(name, now - LOOKBACK))
                self._place(rota, next_handoff(rota.schedule, since, stored[name]))

    async def _handoff(self, name: str, at: datetime) -> None:
        """Announce the handoff of schedule `name` at `at`, then place the job at the next."""
        async with self._lock:
            rota = self.plan.rota(name)
            if rota is None:
                return
            now = self.clock()
            overrides = (await self._overrides([name], min(at, now) - LOOKBACK))[name]
            notices = notices_at(rota.schedule, at, overrides)
            if notices:
                async with self.store.write() as conn:
                    inserted = await enqueue(
                        conn, notices, rota.recipients, rota.schedule.zone, now
                    )
                self.notices += inserted
                log.info(
                    "handoff",
                    schedule=name,
                    at=at.isoformat(),
                    persons=[n.person for n in notices],
                    enqueued=inserted,
                )
                if inserted:
                    self.wake()
            self._announced[name] = at
            self._place(rota, next_handoff(rota.schedule, max(at, now - LOOKBACK), overrides))
            self.handoff_runs += 1

    def _place(self, rota: Rota, at: datetime | None) -> None:
        """The schedule's handoff job at `at` (in the schedule's zone); none when None."""
        job_id = _PREFIX + rota.schedule.name
        job = self._scheduler.get_job(job_id)
        if at is None:
            if job is not None:
                job.remove()
            return
        if job is not None and job.next_run_time == at and job.args[2:] == (rota.schedule.name, at):
            return
        zone = rota.schedule.zone
        self._scheduler.add_job(
            self._job,
            DateTrigger(run_date=at.astimezone(zone), timezone=zone),
            args=[job_id, self._handoff, rota.schedule.name, at],
            id=job_id,
            replace_existing=True,
            # However late (a stalled loop, a handoff during a restart): announce it. Whether
            # it was announced already is the outbox key's to say.
            misfire_grace_time=None,
            coalesce=True,
            # The run that places this job is still counted as running when a past instant
            # makes it due at once; one instance only would skip (and so lose) it. Runs are
            # serialised by `_lock` anyway.
            max_instances=8,
        )
