"""The calendar's quiet-time jobs: APScheduler DateTriggers at the starts and ends of
maintenance windows (in each window's time zone) and of silences (UTC).

- `quiet-recheck`, every `RECHECK` seconds and at start: reads the quiet times (the config's
  windows and the stored silences: `escalatord silence` writes them from another process),
  places a job at each start and end within `AHEAD`, drops jobs of edges that went away (a
  removed silence, a reloaded config), and calls `ended` when a silence stopped being in
  force between two looks (removed, or too short to get a job of its own) and at its first
  run, so a daemon restarted after a window closed pages what is still failing.
- `quiet:<what>:<edge>:<instant>`: at a window's or silence's end calls `ended(at)` (the
  engine opens the incidents of checks still failing, `Engine.release`); at both, `noted`
  writes an entry on the timeline of the open incidents it covers. A quiet check is held
  where incidents open and levels fire, at that instant: no job is needed for that.

Nothing is stored here: every job is placed again from the config and the silences.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import structlog
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from escalatord.calendar.jobs import Calendar
from escalatord.core.quiet import QuietTimes

log = structlog.get_logger("escalatord.calendar")

RECHECK = 5.0  # seconds between looks at the stored silences
AHEAD = timedelta(hours=6)  # edges placed this far ahead; each recheck moves the horizon
MAX_JOBS = 200  # a window every minute would otherwise place hundreds of jobs
_PREFIX = "quiet:"


class QuietJobs:
    """The jobs above, on `calendar`. `times(now)` reads the quiet times; `ended(at)` is
    called at every end, `noted(at, edge, what)` at every start and end. Counters: `ends`
    (end jobs run)."""

    def __init__(
        self,
        calendar: Calendar,
        times: Callable[[datetime], Awaitable[QuietTimes]],
        ended: Callable[[datetime], Awaitable[Any]],
        noted: Callable[[datetime, str, str], Awaitable[Any]] | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        recheck: float = RECHECK,
    ):
        self.calendar = calendar
        self.times = times
        self.ended = ended
        self.noted = noted
        self.clock = clock or (lambda: datetime.now(UTC))
        self.recheck = recheck
        self.ends = 0
        self._seen: frozenset[int] | None = None  # silences in force at the last look
        self._lock = asyncio.Lock()

    def start(self) -> None:
        """Place the recheck job; its first run is now."""
        self.calendar.place(
            "quiet-recheck",
            IntervalTrigger(seconds=self.recheck),
            self._recheck,
            next_run_time=datetime.now(UTC),
            max_instances=1,
        )

    async def _recheck(self) -> None:
        async with self._lock:
            now = self.clock()
            times = await self.times(now)
            in_force = frozenset(s.id for s in times.silences if s.in_force(now))
            first, gone = self._seen is None, (self._seen or frozenset()) - in_force
            self._seen = in_force
            if first or gone:
                await self.ended(now)
            zones: dict[str, tzinfo] = {f"maintenance {w.name}": w.zone for w in times.windows}
            wanted = {
                f"{_PREFIX}{what}:{edge}:{at.isoformat()}": (at, edge, what)
                for at, edge, what in times.edges(now, now + AHEAD)[:MAX_JOBS]
            }
            for job_id, next_run in self.calendar.jobs().items():
                # A job due now but not yet run is kept: it is an edge that just happened.
                late = next_run is not None and next_run <= now
                if job_id.startswith(_PREFIX) and job_id not in wanted and not late:
                    self.calendar.remove(job_id)
            placed = self.calendar.jobs()
            for job_id, (at, edge, what) in wanted.items():
                if job_id not in placed:
                    zone = zones.get(what, UTC)
                    trigger = DateTrigger(run_date=at.astimezone(zone), timezone=zone)
                    self.calendar.place(job_id, trigger, self._edge, at, edge, what)

    async def _edge(self, at: datetime, edge: str, what: str) -> None:
        log.info(f"quiet_{edge}", what=what, at=at.isoformat())
        if self.noted is not None:
            await self.noted(at, edge, what)
        if edge == "end":
            await self.ended(at)
            self.ends += 1
