"""When a node of a cluster takes checks over, their first runs are spread (monitor/handover.py):
checks that never ran anywhere over their interval, as a single node spreads them, and a dead
node's overdue checks over what is left of the failover — never all within one second, which
stays bunched at every interval after (bench/RESULTS.md, "Issue 17: four nodes on one
PostgreSQL"). The handover itself needs no PostgreSQL: this runs on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from escalatord import plugins
from escalatord.checks.base import CheckContext
from escalatord.config.loader import load
from escalatord.core.state import CheckState
from escalatord.escalation.engine import Engine
from escalatord.monitor import handover
from escalatord.monitor.runner import Monitor
from escalatord.store import states as state_store
from escalatord.store.db import Store
from tests.support.config_files import write

CHECKS = 200


async def monitor_on(tmp_path: Path) -> tuple[Store, Monitor]:
    checks = "".join(
        f'[[check]]\nname = "svc-{i}"\ntype = "tcp"\nhost = "127.0.0.1"\nport = 9\n'
        'interval = "60s"\n\n'
        for i in range(CHECKS)
    )
    path = write(tmp_path / "c.toml", f'[daemon]\ndatabase = "sqlite:///{tmp_path}/db"\n\n{checks}')
    config = load(path, env={})
    store = Store(config.daemon.database)
    await store.open()
    built = {
        c.name: plugins.load("checks", c.type)(c, CheckContext(icmp_privileged=False))
        for c in config.checks
    }
    monitor = Monitor(store, Engine(store, config, wake=lambda: None), built)
    monitor.owned = set()  # a node of a cluster that has not taken its share yet
    return store, monitor


def first_runs(monitor: Monitor) -> list[float]:
    """Seconds from now to each scheduled check's first run."""
    now = monitor.scheduler._clock()
    return sorted(job.due - now for job in monitor.scheduler._jobs.values())


async def test_checks_that_never_ran_are_spread_over_their_interval(tmp_path):
    """A new cluster's share (no stored state): first runs spread over the 60 s interval."""
    store, monitor = await monitor_on(tmp_path)
    try:
        gained, _ = await handover.assign(monitor, {f"svc-{i}" for i in range(CHECKS)}, 12.0)
        runs = first_runs(monitor)
    finally:
        await store.close()
    assert len(gained) == CHECKS
    assert runs[0] >= 0 and runs[-1] < 60
    assert runs[-1] - runs[0] > 45  # spread, not bunched within a second


async def test_a_dead_nodes_overdue_checks_start_spread_within_the_failover_budget(tmp_path):
    """Checks whose last run (stored by a dead node) was 90 s ago are overdue: they start
    within the 12 s given, spread over them, not all in the same second."""
    store, monitor = await monitor_on(tmp_path)
    ran = datetime.now(UTC) - timedelta(seconds=90)
    try:
        async with store.write() as conn:
            state = CheckState(since=ran, last_check_at=ran)
            await state_store.save(conn, [(f"svc-{i}", state, {}) for i in range(CHECKS)])
        await handover.assign(monitor, {f"svc-{i}" for i in range(CHECKS)}, 12.0)
        runs = first_runs(monitor)
    finally:
        await store.close()
    assert runs[0] >= 0 and runs[-1] < 12
    assert runs[-1] - runs[0] > 6
