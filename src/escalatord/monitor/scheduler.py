"""APScheduler 3.11 behind a small adapter: one interval job per check.

Jobs live in memory and are rebuilt from config at start and reload. The job itself only
starts a task of ours, so that (a) one check never runs twice at once without APScheduler's
"maximum number of running instances" noise, and (b) shutdown can drain probes in flight
(APScheduler's own shutdown cancels coroutines whatever `wait=` says). Start times are spread
over the interval by a hash of the name, so 10,000 checks do not fire in the same second.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from escalatord.checks.base import CheckConfig

log = structlog.get_logger("escalatord.scheduler")


def spread(name: str, interval: timedelta) -> timedelta:
    """A stable offset in [0, interval) for a check's first run."""
    seconds = interval.total_seconds()
    return timedelta(seconds=(zlib.crc32(name.encode()) % 10_000) / 10_000 * seconds)


class CheckScheduler:
    """Runs `run(name)` for each check on its interval; `reschedule` changes one interval."""

    def __init__(self, run: Callable[[str], Awaitable[None]]):
        self._run = run
        self._sched = AsyncIOScheduler(timezone=UTC)
        self._sched.add_listener(self._submitted, EVENT_JOB_SUBMITTED)
        self._intervals: dict[str, timedelta] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self.lateness: deque[float] = deque(maxlen=50_000)  # seconds, newest last
        self.skipped = 0

    @property
    def running(self) -> bool:
        return self._sched.running

    def start(self) -> None:
        self._sched.start()

    def set_checks(self, checks: Iterable[CheckConfig], now: datetime | None = None) -> None:
        """Make the jobs match `checks`: add new ones, drop missing ones, keep the others."""
        now = now or datetime.now(UTC)
        wanted = {c.name: c for c in checks if c.enabled}
        for name in list(self._intervals):
            if name not in wanted:
                self.remove(name)
        for name, check in wanted.items():
            if name in self._intervals:  # running; a changed check is removed first by reload
                continue
            first = now + spread(name, check.interval)
            self._schedule(name, check.interval, first)

    def _schedule(self, name: str, every: timedelta, first: datetime) -> None:
        trigger = IntervalTrigger(seconds=every.total_seconds(), start_date=first, timezone=UTC)
        grace = max(1, int(every.total_seconds()))  # one interval: a loop stall must not drop runs
        self._sched.add_job(
            self._fire,
            trigger,
            args=(name,),
            id=name,
            name=name,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=grace,
        )
        self._intervals[name] = every

    def reschedule(self, name: str, every: timedelta, now: datetime | None = None) -> None:
        """Change a check's interval (retry_interval while soft); the next run is `every` away."""
        if name not in self._intervals or self._intervals[name] == every:
            return
        now = now or datetime.now(UTC)
        self._schedule(name, every, now + every)

    def remove(self, name: str) -> None:
        if self._intervals.pop(name, None) is not None and self._sched.get_job(name):
            self._sched.remove_job(name)

    def _submitted(self, event: JobSubmissionEvent) -> None:
        scheduled = event.scheduled_run_times[-1]
        self.lateness.append((datetime.now(UTC) - scheduled).total_seconds())

    def run_now(self, name: str) -> bool:
        """Run a check at once, besides its schedule (a dependant's failure asks whether its
        parent is up). False when it is not scheduled or already running: that run answers."""
        task = self._running.get(name)
        if name not in self._intervals or (task is not None and not task.done()):
            return False
        self._start(name)
        return True

    async def _fire(self, name: str) -> None:
        task = self._running.get(name)
        if task is not None and not task.done():
            self.skipped += 1  # still running from last time: this run is coalesced into it
            return
        self._start(name)

    def _start(self, name: str) -> None:
        task = asyncio.create_task(self._run(name), name=f"check:{name}")
        self._running[name] = task
        task.add_done_callback(lambda t, n=name: self._done(n, t))

    def _done(self, name: str, task: asyncio.Task[None]) -> None:
        if self._running.get(name) is task:
            del self._running[name]
        if not task.cancelled() and task.exception() is not None:
            log.error("check_task_failed", check=name, error=repr(task.exception()))

    async def shutdown(self, grace: float) -> int:
        """Stop firing, wait up to `grace` s for checks in flight; returns how many were cut."""
        if self._sched.running:
            self._sched.shutdown(wait=False)
        pending = [t for t in self._running.values() if not t.done()]
        if pending:
            _, still = await asyncio.wait(pending, timeout=grace)
            for task in still:
                task.cancel()
            return len(still)
        return 0
