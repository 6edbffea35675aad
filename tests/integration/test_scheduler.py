"""The check scheduler on a real event loop, with short intervals."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from escalatord.checks.base import CheckConfig
from escalatord.monitor.scheduler import CheckScheduler


def check(name: str, every: float) -> CheckConfig:
    return CheckConfig(name=name, type="tcp", interval=timedelta(seconds=every))


class Recorder:
    """A `run` that records when each check started and can be made slow."""

    def __init__(self, duration: float = 0.0):
        self.duration = duration
        self.starts: dict[str, list[float]] = {}
        self.active: dict[str, int] = {}
        self.overlapped = False

    async def __call__(self, name: str) -> None:
        self.starts.setdefault(name, []).append(time.monotonic())
        self.active[name] = self.active.get(name, 0) + 1
        self.overlapped |= self.active[name] > 1
        try:
            await asyncio.sleep(self.duration)
        finally:
            self.active[name] -= 1


async def test_each_check_runs_once_per_interval():
    """Every check runs about once per interval, its first run within one interval."""
    runs = Recorder()
    sched = CheckScheduler(runs)
    sched.set_checks([check("a", 0.1), check("b", 0.1), check("c", 0.2)])
    sched.start()
    await asyncio.sleep(0.65)
    await sched.shutdown(1)
    assert 6 <= len(runs.starts["a"]) <= 7
    assert 6 <= len(runs.starts["b"]) <= 7
    assert 3 <= len(runs.starts["c"]) <= 4
    gaps = [b - a for a, b in zip(runs.starts["a"], runs.starts["a"][1:], strict=False)]
    assert all(0.07 < g < 0.13 for g in gaps), gaps
    assert len(sched.lateness) >= 15 and max(sched.lateness) < 0.05


async def test_a_slow_check_never_runs_twice_at_once():
    """A run that comes due while the previous one is still going is skipped and counted."""
    runs = Recorder(duration=0.25)
    sched = CheckScheduler(runs)
    sched.set_checks([check("slow", 0.1)])
    sched.start()
    await asyncio.sleep(0.6)
    await sched.shutdown(1)
    assert not runs.overlapped
    assert sched.skipped >= 2
    assert 2 <= len(runs.starts["slow"]) <= 3


async def test_reschedule_changes_the_interval_and_remove_stops_a_check():
    """After reschedule a check runs on its new interval; after remove it runs no more."""
    runs = Recorder()
    sched = CheckScheduler(runs)
    sched.set_checks([check("x", 1.0), check("gone", 0.05)])
    sched.start()
    sched.reschedule("x", timedelta(seconds=0.05))
    sched.remove("gone")
    await asyncio.sleep(0.33)
    await sched.shutdown(1)
    assert 5 <= len(runs.starts.get("x", [])) <= 7
    assert len(runs.starts.get("gone", [])) <= 1  # at most a run already due at once


async def test_a_stalled_loop_runs_a_late_check_once_and_does_not_drop_it():
    """When the loop is blocked for several intervals, each check runs once when it is
    free again (not once per missed interval, and not never)."""
    runs = Recorder()
    sched = CheckScheduler(runs)
    sched.set_checks([check("a", 0.05)])
    sched.start()
    await asyncio.sleep(0.06)
    time.sleep(0.3)  # noqa: ASYNC251 - blocking the loop is the point: six intervals pass
    freed = time.monotonic()
    await asyncio.sleep(0.12)
    await sched.shutdown(1)
    after = [t - freed for t in runs.starts["a"] if t >= freed]
    assert after and after[0] < 0.01  # the late run starts as soon as the loop is free
    assert sum(1 for t in after if t < after[0] + 0.01) == 1  # once, not six times
    assert 2 <= len(after) <= 4  # then on schedule again
    assert max(sched.lateness) >= 0.2  # the stall shows as lateness


async def test_run_now_and_shutdown_drain():
    """run_now starts a check at once (not while it runs); shutdown waits for runs in flight
    and cuts those still going after the grace period."""
    runs = Recorder(duration=0.2)
    sched = CheckScheduler(runs)
    sched.set_checks([check("p", 60.0)])
    sched.start()
    assert sched.run_now("p") is True
    assert sched.run_now("p") is False  # already running
    assert sched.run_now("unknown") is False
    await asyncio.sleep(0)
    assert len(runs.starts["p"]) == 1
    assert await sched.shutdown(1) == 0  # waited for it to finish
    assert not sched.running
    runs.duration = 5
    sched2 = CheckScheduler(runs)
    sched2.set_checks([check("q", 60.0)])
    sched2.start()
    sched2.run_now("q")
    await asyncio.sleep(0)
    assert await sched2.shutdown(0.05) == 1  # cut after the grace period


async def test_run_at_moves_the_next_run_and_prompt_checks_start_within_a_second():
    """A prompt (passive) check's first run comes within a second whatever its interval;
    `run_at` moves a check's next run to a given moment, and a later call replaces it."""
    runs = Recorder()
    sched = CheckScheduler(runs, prompt=lambda name: name == "heartbeat")
    began = time.monotonic()
    # crc32 spreads these names to 30 s and 21 s of 60 s: without `prompt` and `run_at`
    # neither would run during this test.
    sched.set_checks([check("heartbeat", 60.0), check("deadline", 60.0)])
    sched.start()
    sched.run_at("deadline", timedelta(seconds=0.2))
    await asyncio.sleep(1.2)
    assert len(runs.starts.get("heartbeat", [])) == 1
    assert runs.starts["heartbeat"][0] - began <= 1.1
    assert len(runs.starts.get("deadline", [])) == 1
    assert 0.2 <= runs.starts["deadline"][0] - began <= 1.1
    sched.run_at("heartbeat", timedelta(seconds=0.1))
    sched.run_at("deadline", timedelta(seconds=0.1))
    sched.run_at("deadline", timedelta(seconds=30))  # the deadline moved later: no run now
    await asyncio.sleep(0.5)
    await sched.shutdown(1)
    assert len(runs.starts["heartbeat"]) == 2
    assert len(runs.starts["deadline"]) == 1
