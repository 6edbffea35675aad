"""Measuring and reporting the daemon's overload (issue 17); the judgement is core/overload.py.

- `LoopLag`: a timer every TICK seconds that notes how late the loop ran it. `lost()` is a
  running total of the seconds the loop was stalled, so a probe's share of stalls is the
  difference between its end and its start. The scheduler owns one (started with it).
- `Overload` (the monitor's): counts results blamed on the daemon, says the overload in
  words for /healthz ("degraded"), reports /metrics families, and logs `daemon_overloaded`
  with how far behind it is at most every LOG_EVERY seconds while it lasts, and
  `daemon_overload_over` when it ends.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable

import structlog

from escalatord.checks.base import CheckConfig
from escalatord.core import overload as judge
from escalatord.core.status import Result

log = structlog.get_logger("escalatord.overload")

TICK = 0.1  # seconds between the lag timer's runs
WINDOW = 10.0  # seconds the largest lag and the blamed results are kept for
LOG_EVERY = 10.0
SLACK = 0.005  # a timer this late is on time: callbacks queued before it ran first

Family = tuple[str, str, str, list[tuple[str, float]]]


class LoopLag:
    """The event loop's lateness, measured by a repeating timer."""

    def __init__(self) -> None:
        self.stalled = 0.0  # seconds the loop was late, summed
        self.worst = 0.0  # largest lateness in the current window
        self.peak = 0.0  # largest lateness since `take_peak()`
        self._worst_before = 0.0  # ... and in the previous one
        self._window_ends = 0.0
        self._expected = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.listeners: list[Callable[[float], None]] = []  # called each tick, with loop time

    def start(self) -> None:
        if self._handle is not None:
            return
        self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        self._window_ends = now + WINDOW
        self._arm(now)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def lost(self) -> float:
        """Seconds the loop has been stalled so far, including a stall going on now."""
        return self.stalled + max(0.0, self.lost_now() - SLACK)

    def take_peak(self) -> float:
        """The largest lateness since the last call (a stall going on now included)."""
        peak, self.peak = max(self.peak, self.lost_now()), 0.0
        return peak

    def lost_now(self) -> float:
        if self._loop is None or self._handle is None:
            return 0.0
        return max(0.0, self._loop.time() - self._expected)

    def sustained(self) -> float:
        """The lateness the loop reached in both of the last two windows (10-20 s): one stall
        (a reload rebuilding the checks) is not an overload; a loop late all along is."""
        return min(self.worst, self._worst_before)

    def recent(self) -> float:
        """The largest lateness over the last one to two windows, seconds."""
        return max(self.worst, self._worst_before)

    def _arm(self, now: float) -> None:
        assert self._loop is not None
        self._expected = now + TICK
        self._handle = self._loop.call_at(self._expected, self._tick)

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        late = now - self._expected
        if late > SLACK:
            self.stalled += late - SLACK
            self.worst = max(self.worst, late)
            self.peak = max(self.peak, late)
        if now >= self._window_ends:
            self._worst_before, self.worst = self.worst, 0.0
            self._window_ends = now + WINDOW
        self._arm(now)
        for listener in self.listeners:
            listener(now)


class Scheduler:
    """What Overload reads from the scheduler (monitor/scheduler.py `CheckScheduler`)."""

    lag: LoopLag
    limit: int

    @property
    def in_flight(self) -> int: ...

    def behind(self) -> float: ...


class Overload:
    """The daemon's overload as /healthz, /metrics and the log show it."""

    def __init__(self, scheduler: Scheduler):
        self.scheduler = scheduler
        self.blamed_total = 0  # failed results blamed on the daemon, since start
        self._blamed: deque[float] = deque()  # their monotonic times, within the window
        self._logged_at = -LOG_EVERY
        self._reported = False  # the last log line said it was overloaded
        scheduler.lag.listeners.append(self._tick)

    def blames(self, check: CheckConfig, result: Result, stalled: float) -> bool:
        """Whether `result` is the daemon's overload, not the target's failure (core/overload.py
        `saturated`), `stalled` being `lag.lost()` when its probe began. If so it is counted
        and logged, and the monitor does not feed it to the state machine: the check runs
        again on its schedule."""
        lost = self.scheduler.lag.lost() - stalled + result.lost  # here, and in a worker
        timeout = check.timeout.total_seconds()
        if not judge.saturated(result.status.is_problem, result.duration, timeout, lost):
            return False
        self.blamed_total += 1
        self._blamed.append(time.monotonic())
        log.info("probe_timeout_blamed_on_overload", check=check.name, summary=result.summary,
                 lost_s=round(lost, 3))  # fmt: skip
        return True

    def pressure(self) -> judge.Pressure:
        cutoff = time.monotonic() - WINDOW
        while self._blamed and self._blamed[0] < cutoff:
            self._blamed.popleft()
        s = self.scheduler
        return judge.Pressure(
            behind=s.behind(),
            loop_lag=s.lag.sustained(),
            running=s.in_flight,
            limit=s.limit,
            blamed=len(self._blamed),
        )

    def problems(self) -> list[str]:
        """The overload in words ([] when the daemon keeps up): /healthz says "degraded"."""
        found = judge.problem(self.pressure())
        return [] if found is None else [found]

    def metrics(self) -> Iterable[Family]:
        p = self.pressure()
        yield ("escalatord_overloaded", "gauge",
               "1 while the daemon is overloaded (/healthz says why), else 0.",
               [("", float(judge.problem(p) is not None))])  # fmt: skip
        yield ("escalatord_scheduler_behind_seconds", "gauge",
               "How overdue the most overdue check run still waiting to start is.",
               [("", round(p.behind, 6))])  # fmt: skip
        yield ("escalatord_scheduler_running", "gauge", "Check runs in flight now.",
               [("", p.running)])  # fmt: skip
        yield ("escalatord_scheduler_running_limit", "gauge",
               "Check runs in flight at most now (lower while the loop runs late); past it "
               "due runs wait, most overdue first.",
               [("", p.limit)])  # fmt: skip
        yield ("escalatord_loop_lag_max_seconds", "gauge",
               "Largest lateness of the event loop over the last 10 to 20 s.",
               [("", round(self.scheduler.lag.recent(), 6))])  # fmt: skip
        yield ("escalatord_loop_stalled_seconds_total", "counter",
               "Seconds the event loop ran late, summed.",
               [("", round(self.scheduler.lag.stalled, 6))])  # fmt: skip
        yield ("escalatord_checks_overloaded_total", "counter",
               "Failed probe results blamed on the daemon's overload, not counted against checks.",
               [("", self.blamed_total)])  # fmt: skip

    def _tick(self, now: float) -> None:
        if now - self._logged_at < LOG_EVERY:
            return
        p = self.pressure()
        found = judge.problem(p)
        if found is not None:
            self._logged_at, self._reported = now, True
            log.warning("daemon_overloaded", problem=found, behind_s=round(p.behind, 1),
                        running=p.running, limit=p.limit, loop_lag_s=round(p.loop_lag, 3),
                        blamed=p.blamed)  # fmt: skip
        elif self._reported:
            self._logged_at, self._reported = now, False
            log.info("daemon_overload_over")
