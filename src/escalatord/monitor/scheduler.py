"""The check scheduler: one timer for all checks, a heap of due times, a task per run.

Jobs live in memory and are rebuilt from config at start and reload. Each check runs every
`interval` from a first run spread over the interval by a hash of its name, so 10,000 checks
do not fire in the same second. A run that comes due while the previous run of the same
check is still going is not started (counted in `skipped`): one check never runs twice at
once. A run that comes due late (a stalled loop, a suspended VM) still runs, once; runs
missed meanwhile are not made up, and are counted in `skipped` too. Shutdown stops firing and
drains probes in flight.

Overload (issue 17): at most `limit` runs go at once. Past that, due runs wait in the heap,
which hands out the most overdue first as runs end: every check is delayed alike and none
starves, and the tasks and sockets in flight stay bounded (so does memory). `limit` is at
most `max_running` and lower while the event loop runs late (core/overload.py `next_limit`,
looked at every ADAPT_EVERY s): the API, state flushes and pages keep their turns. Lateness is
measured when a run starts, from the earliest of its due times not yet served (a run skipped
because the previous one was still going is owed, and its lateness counts from then), so it
shows the waiting; `behind()` says how overdue the oldest waiting run is, and `lag` measures
the event loop's own lateness (monitor/overload.py).

A passive check (a heartbeat) is judged rather than probed and may have a deadline sooner
than its interval: its first run comes within `PROMPT_FIRST` seconds of the start, and the
monitor moves its next run to each deadline (`run_at`), so lateness is not polled.

This replaced APScheduler 3: its per-run bookkeeping (job store updates, events, an executor
hop and an extra task per run) was a large share of the loop's busy time at high check rates,
where here a run costs a heap pop and push and its task (bench/RESULTS.md, "Issue 6: the
scenario suite, and the first round of speed work").
Times are the loop's monotonic clock: a change of the wall clock moves no check.
"""

from __future__ import annotations

import asyncio
import heapq
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

import structlog

from escalatord.checks.base import CheckConfig
from escalatord.core.overload import next_limit
from escalatord.monitor.overload import LoopLag

log = structlog.get_logger("escalatord.scheduler")
# The first runs of prompt (passive) checks are spread over this many seconds at most: their
# deadline comes from the store and may fall long before an interval has passed.
PROMPT_FIRST = 1.0
# Runs in flight at most (`max_running`): well above what one process keeps up with at short
# probe times, low enough that a saturated daemon holds a bounded number of tasks and sockets.
MAX_RUNNING = 2_000
ADAPT_EVERY = 0.5  # seconds between looks at the loop's lateness to set `limit`


def spread(name: str, interval: timedelta) -> timedelta:
    """A stable offset in [0, interval) for a check's first run."""
    return timedelta(seconds=_spread(name, interval.total_seconds()))


def _spread(name: str, seconds: float) -> float:
    return (zlib.crc32(name.encode()) % 10_000) / 10_000 * seconds


class _Job:
    __slots__ = ("due", "every", "owed", "version")

    def __init__(self, every: float, due: float):
        self.every = every
        self.due = due  # loop time of the next run
        self.version = 0  # heap entries of an older version are stale
        self.owed: float | None = None  # due time of a run skipped (still running), unserved


class CheckScheduler:
    """Runs `run(name)` for each check on its interval; `reschedule` changes one interval.

    `prompt(name)` says whether a check's first run comes within `PROMPT_FIRST` seconds
    rather than spread over its interval (passive checks, whose deadline `run_at` keeps).
    """

    def __init__(
        self,
        run: Callable[[str], Awaitable[None]],
        prompt: Callable[[str], bool] = lambda name: False,
    ):
        self._run = run
        self._prompt = prompt
        self._jobs: dict[str, _Job] = {}
        self._heap: list[tuple[float, int, str]] = []  # (due, version, name)
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = float("inf")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self._running: dict[str, asyncio.Task[None]] = {}
        self.lateness: deque[float] = deque(maxlen=50_000)  # seconds, newest last
        self.skipped = 0
        self.max_running = MAX_RUNNING
        self.limit = MAX_RUNNING  # runs in flight at most now: max_running, lower when late
        self.lag = LoopLag()  # the event loop's own lateness, started with the scheduler
        self.lag.listeners.append(self._adapt)
        self._adapted_at = 0.0

    @property
    def running(self) -> bool:
        return self._started

    def _clock(self) -> float:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop.time()

    def start(self) -> None:
        self._started = True
        self.lag.start()
        self._arm()

    @property
    def in_flight(self) -> int:
        """Runs going now (at most `limit`, besides `run_now`'s)."""
        return len(self._running)

    def behind(self) -> float:
        """Seconds the most overdue run still waiting to start is past its due time (0: none)."""
        if not self._started or not self._heap:
            return 0.0
        return max(0.0, self._clock() - self._heap[0][0])

    def set_checks(
        self,
        checks: Iterable[CheckConfig],
        now: datetime | None = None,
        first: Mapping[str, float] | None = None,
    ) -> None:
        """Make the jobs match `checks`: add new ones, drop missing ones, keep the others.
        `first`: seconds to the first run of some new jobs, instead of the spread (a check a
        node of a cluster takes over goes on from when it last ran)."""
        # `now` (wall clock) only shifts the first runs: the schedule itself is monotonic.
        shift = ((now - datetime.now(UTC)).total_seconds()) if now is not None else 0.0
        wanted = {c.name: c for c in checks if c.enabled}
        for name in list(self._jobs):
            if name not in wanted:
                self.remove(name)
        base = self._clock() + shift
        for name, check in wanted.items():
            if name in self._jobs:  # running; a changed check is removed first by reload
                continue
            every = check.interval.total_seconds()
            if first is not None and name in first:
                self._schedule(name, every, base + max(0.0, first[name]))
                continue
            spread_over = min(every, PROMPT_FIRST) if self._prompt(name) else every
            self._schedule(name, every, base + _spread(name, spread_over))
        self._arm()

    def _schedule(self, name: str, every: float, due: float) -> None:
        job = self._jobs.get(name)
        if job is None:
            job = self._jobs[name] = _Job(every, due)
        else:
            job.every, job.due = every, due
            job.version += 1
        heapq.heappush(self._heap, (due, job.version, name))

    def reschedule(self, name: str, every: timedelta, now: datetime | None = None) -> None:
        """Change a check's interval (retry_interval while soft); the next run is `every` away."""
        job = self._jobs.get(name)
        seconds = every.total_seconds()
        if job is None or job.every == seconds:
            return
        self._schedule(name, seconds, self._clock() + seconds)
        self._arm()

    def run_at(self, name: str, delay: timedelta) -> None:
        """Make a check's next run `delay` from now, its interval going on from there: a
        passive check is judged at its deadline, sooner or later than the run now planned."""
        job = self._jobs.get(name)
        if job is None:
            return
        self._schedule(name, job.every, self._clock() + max(0.0, delay.total_seconds()))
        self._arm()

    def remove(self, name: str) -> None:
        self._jobs.pop(name, None)  # its heap entries are skipped when they come due

    def run_now(self, name: str) -> bool:
        """Run a check at once, besides its schedule (a dependant's failure asks whether its
        parent is up). False when it is not scheduled or already running: that run answers."""
        task = self._running.get(name)
        if name not in self._jobs or (task is not None and not task.done()):
            return False
        self._start(name)
        return True

    def _arm(self) -> None:
        """Set the one timer for the earliest due run (if not set for it already)."""
        if not self._started or not self._heap:
            return
        due = self._heap[0][0]
        if len(self._running) >= self.limit and due <= self._clock():
            return  # saturated: the next run to end starts the most overdue one (_done)
        if self._timer is not None:
            if self._armed_for <= due:
                return
            self._timer.cancel()
        self._clock()
        assert self._loop is not None
        self._armed_for = due
        self._timer = self._loop.call_at(due, self._fire_due)

    def _fire_due(self) -> None:
        self._timer, self._armed_for = None, float("inf")
        if not self._started:
            return
        self._pump()
        self._arm()

    def _pump(self) -> None:
        """Start the runs that are due, most overdue first, while fewer than `limit` go."""
        now = self._clock()
        heap, jobs, running = self._heap, self._jobs, self._running
        # Runs due within the next millisecond go now too: one wake-up, not one each.
        while heap and heap[0][0] <= now + 0.001 and len(running) < self.limit:
            due, version, name = heapq.heappop(heap)
            job = jobs.get(name)
            if job is None or job.version != version:
                continue  # removed or rescheduled since
            task = running.get(name)
            if task is not None and not task.done():
                self.skipped += 1  # still running from last time: this run is coalesced into it
                if job.owed is None:
                    job.owed = due
            else:
                owed, job.owed = job.owed, None
                self.lateness.append(max(0.0, now - (due if owed is None else owed)))
                self._start(name)
            nxt = due + job.every
            if nxt <= now:  # behind by a whole interval or more: skip to the next slot ahead
                missed = int((now - nxt) // job.every) + 1
                self.skipped += missed  # runs that never came: counted, not made up
                nxt += missed * job.every
            job.due = nxt
            heapq.heappush(heap, (nxt, version, name))

    def _adapt(self, now: float) -> None:
        """Set `limit` from the loop's lateness (core/overload.py); start runs if it rose."""
        if now - self._adapted_at < ADAPT_EVERY:
            return
        self._adapted_at = now
        full = len(self._running) >= self.limit
        before, self.limit = (
            self.limit,
            next_limit(self.limit, self.max_running, self.lag.take_peak(), full),
        )
        if self._started and self.limit > before:
            self._pump()
            self._arm()

    def _start(self, name: str) -> None:
        task = asyncio.create_task(self._run(name), name=f"check:{name}")
        self._running[name] = task
        task.add_done_callback(lambda t, n=name: self._done(n, t))

    def _done(self, name: str, task: asyncio.Task[None]) -> None:
        if self._running.get(name) is task:
            del self._running[name]
        if not task.cancelled() and task.exception() is not None:
            log.error("check_task_failed", check=name, error=repr(task.exception()))
        if self._started and self._heap and self._heap[0][0] <= self._clock() + 0.001:
            self._pump()  # saturated: a run ended, the most overdue waiting one starts
            self._arm()

    async def shutdown(self, grace: float) -> int:
        """Stop firing, wait up to `grace` s for checks in flight; returns how many were cut."""
        self._started = False
        self.lag.stop()
        if self._timer is not None:
            self._timer.cancel()
            self._timer, self._armed_for = None, float("inf")
        pending = [t for t in self._running.values() if not t.done()]
        if pending:
            _, still = await asyncio.wait(pending, timeout=grace)
            for task in still:
                task.cancel()
            return len(still)
        return 0
