"""The board's data, shared: every check by site with its state, and the open incidents in
order, read through the API listings' read paths (api/listings.py `current_states`,
`select_incidents`, on the store's reader connections).

`BoardFeed` keeps the last snapshot for REFRESH and makes at most one read at a time, however
many people watch the board or the public status page: the daemon's cost does not grow with
its visitors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from escalatord.api.listings import OPEN_STATUSES, current_states, quiet_json, select_incidents
from escalatord.checks.base import CheckConfig
from escalatord.console.services import ConsoleServices
from escalatord.core.quiet import QuietTimes
from escalatord.core.state import CheckState
from escalatord.core.status import Status
from escalatord.incidents.views import incident_json

REFRESH = timedelta(seconds=5)
OPEN_SHOWN = 200  # open incidents on the board at most (the API lists them all)
NO_SITE = "(no site)"
# Worst first within a site.
_ORDER = {Status.CRITICAL: 0, Status.UNREACHABLE: 1, Status.UNKNOWN: 2, Status.WARNING: 3,
          Status.OK: 4}  # fmt: skip


@dataclass(frozen=True)
class CheckRow:
    name: str
    description: str
    status: str
    hard: bool
    since: datetime | None
    summary: str
    flapping: bool
    quiet: Mapping[str, Any] | None


@dataclass(frozen=True)
class Site:
    name: str
    checks: Sequence[CheckRow]
    problems: int


@dataclass(frozen=True)
class Snapshot:
    """What the board shows, read at `at`."""

    at: datetime
    incidents: Sequence[Mapping[str, Any]]  # incidents/views.py incident_json, ordered
    sites: Sequence[Site]


def order_incidents(
    rows: Sequence[Mapping[str, Any]], priorities: Mapping[str, int]
) -> list[Mapping[str, Any]]:
    """Open incidents by priority (the incident's, else its category's; none last), then
    oldest first (the one waiting longest on top)."""

    def key(item: Mapping[str, Any]) -> tuple[int, str, str]:
        priority = item.get("priority") or priorities.get(item.get("category") or "")
        return (priority if priority is not None else 1_000, item["opened_at"] or "", item["id"])

    return sorted(rows, key=key)


def sites_of(
    checks: Sequence[CheckConfig],
    states: Mapping[str, tuple[CheckState, Mapping[str, Any]]],
    times: QuietTimes | None,
    now: datetime,
) -> list[Site]:
    """Enabled checks grouped by `labels.site` (sites by name, "(no site)" last), the worst
    state first within a site."""
    grouped: dict[str, list[CheckRow]] = {}
    for cfg in checks:
        if not cfg.enabled:
            continue
        state = states.get(cfg.name, (CheckState(), {}))[0]
        row = CheckRow(cfg.name, cfg.description, state.status.value, state.hard, state.since,
                       state.last_summary, state.flapping,
                       quiet_json(times, cfg.name, cfg.labels, now))  # fmt: skip
        grouped.setdefault(cfg.labels.get("site") or NO_SITE, []).append(row)
    out = []
    for name in sorted(grouped, key=lambda s: (s == NO_SITE, s)):
        rows = sorted(grouped[name], key=lambda r: (_ORDER[Status(r.status)], r.name))
        out.append(Site(name, rows, sum(r.status != "ok" for r in rows)))
    return out


async def read_board(services: ConsoleServices, now: datetime) -> Snapshot:
    """One read of everything the board shows."""
    listings = services.listings
    states = await current_states(listings.store, listings.held)
    rows = await select_incidents(listings.store, set(OPEN_STATUSES), None, None, OPEN_SHOWN)
    times = await listings.quiet(now) if listings.quiet is not None else None
    incidents = order_incidents([incident_json(row) for row in rows], services.categories())
    return Snapshot(now, incidents, sites_of(listings.checks(), states, times, now))


class BoardFeed:
    """The latest snapshot, shared: read again when older than `refresh`, one read at a time
    (those arriving during a read wait for it and share its result)."""

    def __init__(self, services: ConsoleServices, refresh: timedelta = REFRESH):
        self.services = services
        self.refresh = refresh
        self.reads = 0  # how many reads were made (tests and docs/console.md)
        self._latest: Snapshot | None = None
        self._lock = asyncio.Lock()

    def _fresh(self, now: datetime) -> Snapshot | None:
        latest = self._latest
        if latest is not None and latest.at <= now < latest.at + self.refresh:
            return latest
        return None

    async def snapshot(self) -> Snapshot:
        if found := self._fresh(self.services.now()):
            return found
        async with self._lock:
            now = self.services.now()
            if found := self._fresh(now):
                return found
            self._latest = await read_board(self.services, now)
            self.reads += 1
            return self._latest
