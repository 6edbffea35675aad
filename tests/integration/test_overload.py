"""A saturated daemon delays checks fairly and blames its own timeouts on itself (issue 17)."""

from __future__ import annotations

import asyncio
import socket
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from escalatord.checks.base import CheckConfig, CheckContext
from escalatord.checks.tcp import TcpCheck
from escalatord.config.loader import load_text
from escalatord.core.status import Result, Status
from escalatord.escalation.engine import Engine
from escalatord.monitor.runner import Monitor
from escalatord.monitor.scheduler import CheckScheduler
from escalatord.store.db import Store
from escalatord.store.tables import incidents


class Held:
    """A `run` whose runs each wait until the test lets them end; starts are queued in order."""

    def __init__(self) -> None:
        self.started: asyncio.Queue[tuple[str, asyncio.Event]] = asyncio.Queue()
        self.going = 0
        self.most = 0

    async def __call__(self, name: str) -> None:
        done = asyncio.Event()
        self.going += 1
        self.most = max(self.most, self.going)
        await self.started.put((name, done))
        try:
            await done.wait()
        finally:
            self.going -= 1


async def test_a_saturated_scheduler_runs_the_most_overdue_first_and_starves_none():
    """With room for 2 runs and 10 checks due, every check runs once before any runs twice,
    runs in flight never pass the limit, and the waiting shows in lateness and skipped."""
    runs = Held()
    sched = CheckScheduler(runs)
    sched.max_running = sched.limit = 2
    every = timedelta(milliseconds=50)
    sched.set_checks(CheckConfig(name=f"c{n}", type="tcp", interval=every) for n in range(10))
    sched.start()
    order = []
    try:
        for _ in range(30):
            name, done = await runs.started.get()
            order.append(name)
            if len(order) == 1:
                await asyncio.sleep(0.2)  # hold the first run: the others fall behind meanwhile
            done.set()
    finally:
        while not runs.started.empty():
            runs.started.get_nowait()[1].set()
        sched.max_running = sched.limit = 1_000
        await sched.shutdown(1)
    assert runs.most <= 2
    assert sorted(order[:10]) == sorted(f"c{n}" for n in range(10))  # nobody runs twice first
    assert all(order.count(f"c{n}") >= 2 for n in range(10))  # nobody starves
    assert sched.skipped > 0  # runs missed while waiting are counted
    assert max(sched.lateness) >= every.total_seconds()  # the waiting shows in lateness


async def test_a_run_skipped_while_the_previous_one_goes_is_owed_in_lateness():
    """A check held past its next run counts a skipped run, and its next start is measured late
    from the due time it missed, not as on time."""
    runs = Held()
    sched = CheckScheduler(runs)
    sched.set_checks([CheckConfig(name="slow", type="tcp", interval=timedelta(seconds=0.05))])
    sched.start()
    try:
        _, first = await runs.started.get()
        await asyncio.sleep(0.2)  # its next runs come due while this one goes
        first.set()
        _, second = await runs.started.get()
        second.set()
    finally:
        await sched.shutdown(1)
    assert sched.skipped >= 1
    assert sched.lateness[-1] >= 0.05


# ---- a saturated daemon's timeouts are not the target's failures -----------------------------

CONFIG = """
[[check]]
name = "records"
type = "tcp"
host = "127.0.0.1"
port = {port}
expect = "READY"
timeout = "1s"
retries = 1
labels = {{ team = "records" }}

[[notifier]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:9/hook"

[[policy]]
name = "p"
  [[policy.level]]
  after = "0m"
  notify = ["hook"]

[[rule]]
name = "records"
match = {{ team = "records" }}
policy = "p"
"""


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says anything: every probe times out."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.fixture
async def monitor(tmp_path, silent_port) -> Iterator[Monitor]:
    config = load_text(textwrap.dedent(CONFIG.format(port=silent_port)), env={})
    async with Store(f"sqlite:///{tmp_path}/escalatord.db") as store:
        check = TcpCheck(config.check_by_name["records"], CheckContext())
        mon = Monitor(store, Engine(store, config, wake=lambda: None), {"records": check})
        mon.scheduler.start()  # no jobs are scheduled: the test runs the check itself
        try:
            yield mon
        finally:
            await mon.scheduler.shutdown(1)


async def _incidents(store: Store) -> list:
    async with store.read() as conn:
        return (await conn.execute(select(incidents))).all()


async def test_a_target_that_never_answers_still_opens_an_incident(monitor):
    """A timeout on a daemon that keeps up is the target's failure: it opens an incident."""
    await monitor.run_check("records")
    assert monitor.states["records"].status is Status.CRITICAL
    assert "timed out" in monitor.states["records"].last_summary
    assert len(await _incidents(monitor.store)) == 1
    assert monitor.overload.blamed_total == 0


async def test_a_timeout_while_the_daemon_is_stalled_opens_nothing(monitor):
    """A probe that times out while the daemon's own loop is stalled is blamed on the daemon:
    no state change, no incident, and the overload is counted and said in words."""
    loop = asyncio.get_running_loop()
    loop.call_later(0.1, time.sleep, 0.6)  # the daemon too busy to read replies for 0.6 s
    await monitor.run_check("records")
    assert "records" not in monitor.states  # the result was not fed to the state machine
    assert await _incidents(monitor.store) == []
    assert monitor.overload.blamed_total == 1
    (problem,) = monitor.overload.problems()
    assert "probe timeouts that were the daemon's" in problem
    families = {name: samples for name, _, _, samples in monitor.overload.metrics()}
    assert families["escalatord_checks_overloaded_total"] == [("", 1)]
    assert families["escalatord_overloaded"] == [("", 1.0)]


class StalledWorker:
    """A probe pool whose worker timed the probe out while its own loop stalled."""

    async def run(self, check) -> Result:
        return Result(Status.CRITICAL, "timed out after 1s", duration=1.0, lost=0.6)


async def test_a_timeout_while_a_probe_worker_was_stalled_opens_nothing(monitor):
    """A worker's own stall (reported with its result) is the daemon's overload too."""
    monitor.probes = StalledWorker()  # type: ignore[assignment]
    await monitor.run_check("records")
    assert "records" not in monitor.states
    assert await _incidents(monitor.store) == []
    assert monitor.overload.blamed_total == 1
