"""The virtual clock of a simulation (commands/simulation.py) and the stand-ins it hands the
Monitor: a check without its probe, and a scheduler whose runs are queue entries, not timers."""

from __future__ import annotations

import heapq
import itertools
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from escalatord.checks.base import CheckConfig


class Stand:
    """A check as the Monitor sees it, without its probe: its config and kind."""

    def __init__(self, config: CheckConfig, kind: str):
        self.config = config
        self.kind = kind


class Clock:
    """The virtual clock every object of the run reads."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class VirtualScheduler:
    """monitor/scheduler.py's CheckScheduler as the Monitor uses it (`reschedule`, `run_at`,
    `run_now`), with runs as entries of a queue on the virtual clock instead of timers."""

    running = True

    def __init__(self, clock: Clock):
        self.clock = clock
        self.jobs: dict[str, list[Any]] = {}  # name -> [every, version]
        self.heap: list[tuple[datetime, int, str, int | None]] = []  # due, seq, name, version
        self._seq = itertools.count()

    def add(self, name: str, every: timedelta, first: datetime) -> None:
        self.jobs[name] = [every, 0]
        heapq.heappush(self.heap, (first, next(self._seq), name, 0))

    def _schedule(self, name: str, every: timedelta, due: datetime) -> None:
        job = self.jobs[name]
        job[0], job[1] = every, job[1] + 1
        heapq.heappush(self.heap, (due, next(self._seq), name, job[1]))

    def reschedule(self, name: str, every: timedelta, now: datetime | None = None) -> None:
        job = self.jobs.get(name)
        if job is None or job[0] == every:
            return
        self._schedule(name, every, self.clock() + every)

    def run_at(self, name: str, delay: timedelta) -> None:
        job = self.jobs.get(name)
        if job is not None:
            self._schedule(name, job[0], self.clock() + max(timedelta(0), delay))

    def run_now(self, name: str) -> bool:
        if name not in self.jobs:
            return False
        heapq.heappush(self.heap, (self.clock(), next(self._seq), name, None))
        return True

    def _drop_stale(self) -> None:
        while self.heap:
            _, _, name, version = self.heap[0]
            if version is None or self.jobs[name][1] == version:
                return
            heapq.heappop(self.heap)

    def next_at(self) -> datetime | None:
        self._drop_stale()
        return self.heap[0][0] if self.heap else None

    def pop(self) -> str:
        """The next run's check (call when `next_at()` is now); a job's next run is queued."""
        self._drop_stale()
        due, _, name, version = heapq.heappop(self.heap)
        if version is not None:  # its interval goes on from this run
            heapq.heappush(self.heap, (due + self.jobs[name][0], next(self._seq), name, version))
        return name
