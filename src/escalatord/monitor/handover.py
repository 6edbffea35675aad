"""Checks moving between the nodes of a cluster (monitor/cluster.py decides when).

    gained, lost = await assign(monitor, share)    # run exactly `share` from now on
    await catch_up(monitor)                       # heartbeats pinged at other nodes

A node giving checks up writes their states first, so their new owner reads them; a node
taking checks over reads their states from the store before their first run here, which
comes when each was due after its last run anywhere (core/lease.py `resume_delay`): a check
that was failing stays failing with its open incident, and is never paged again for it.

Passive signals (heartbeat pings) are accepted by every node and stored; the node owning the
check judges them. `catch_up` judges, on the owner, those another node stored since the check
was last judged here, as if they had arrived here.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

import structlog

from escalatord.checks.base import Check
from escalatord.core.lease import resume_delay
from escalatord.core.state import CheckState, next_delay
from escalatord.monitor import relayed
from escalatord.monitor.runner import Monitor
from escalatord.monitor.scheduler import PROMPT_FIRST, spread
from escalatord.store import states as state_store

log = structlog.get_logger("escalatord.cluster")


async def assign(
    monitor: Monitor, owned: Collection[str], overdue_within: float = PROMPT_FIRST
) -> tuple[set[str], set[str]]:
    """Make `monitor` run exactly the checks `owned` from now on; returns (gained, lost).
    A gained check counts as this node's only once its stored state is loaded, so no result
    (a heartbeat ping) is judged here against an older state meanwhile. Overdue checks taken
    over (a dead node's) start spread over `overdue_within` seconds (see `_take_over`)."""
    before = monitor.owned if monitor.owned is not None else set(monitor.checks)
    wanted = {name for name in owned if name in monitor.checks}
    gained, lost = wanted - before, before - wanted
    monitor.owned = before - lost
    for name in lost:
        monitor.scheduler.remove(name)
    if lost:
        try:
            await monitor.flush()
        except Exception:  # the store is out of reach: the new owner reads what it has
            log.warning("state_flush_before_handover_failed", checks=len(lost))
    first = await _take_over(monitor, gained, overdue_within) if gained else {}
    monitor.owned = wanted
    if gained:
        configs = [c.config for n, c in monitor.checks.items() if n in wanted]
        monitor.scheduler.set_checks(configs, first=first)
    return gained, lost


async def _take_over(monitor: Monitor, names: set[str], overdue_within: float) -> dict[str, float]:
    """Load the states of checks taken over; seconds to the first run here of each that ran
    before. One that never ran anywhere (a new cluster, a new check) is left out: the
    scheduler spreads its first run over its interval, as a single node does, instead of all
    of a node's share starting within a second and staying bunched at every interval. An
    overdue one starts within `overdue_within` seconds, spread by a hash of its name."""
    async with monitor.store.read() as conn:
        stored = await state_store.load(conn, names=names)
    now = monitor.clock()
    first: dict[str, float] = {}
    for name in names:
        state, extra = stored.get(name, (CheckState(), {}))
        monitor.adopt(name, state, extra)
        if state.last_check_at is None:
            continue
        every = next_delay(state, monitor.checks[name].config).total_seconds()
        within = PROMPT_FIRST if monitor.checks[name].kind == "passive" else overdue_within
        soon = spread(name, timedelta(seconds=min(every, within))).total_seconds()
        first[name] = resume_delay(state.last_check_at, every, now, soon)
    return first


async def catch_up(monitor: Monitor) -> int:
    """Judge the signals other nodes stored for the passive checks `monitor` owns; returns
    how many. A passive check type takes part through a class method `relayed(store, checks,
    judged_at, now)` (heartbeats/check.py): one read for all its checks, returning (name,
    when the signal arrived, its judgement) for signals newer than `judged_at`."""
    groups: dict[Any, list[Check]] = {}
    for name in monitor.owned or ():
        check = monitor.checks.get(name)
        relay = getattr(type(check), "relayed", None)
        if check is not None and relay is not None and check.kind == "passive":
            groups.setdefault(relay, []).append(check)
    count = 0
    for relay, checks in groups.items():
        judged_at = {c.name: _judged_at(monitor, c.name) for c in checks}
        for name, at, judged in await relay(monitor.store, checks, judged_at, monitor.clock()):
            count += await monitor.relay(name, at, judged)
    return count + await _apply_relayed(monitor)


async def _apply_relayed(monitor: Monitor) -> int:
    """Apply, oldest first, the results other nodes kept for checks `monitor` owns (traps sent
    to another node, monitor/relayed.py); one older than the check's last result is dropped,
    as a late signal is. Returns how many were applied."""
    now = monitor.clock()
    async with monitor.store.write() as conn:
        kept, dropped = await relayed.claim(conn, monitor.owned or (), now)
    if dropped:
        log.warning("relayed_results_dropped", rows=dropped, why="no node owned their check")
    count = 0
    for name, result, params in kept:
        last = _judged_at(monitor, name)
        if last is not None and result.at is not None and result.at <= last:
            continue
        noted = getattr(monitor.checks.get(name), "noted", None)
        if noted is not None:  # a trap check times its clear_after from its last problem
            noted(result)
        await monitor.on_passive(name, (result, params))
        count += 1
    return count


def _judged_at(monitor: Monitor, name: str) -> Any:
    state = monitor.states.get(name)
    return state.last_check_at if state is not None else None
