"""Quiet times in the engine: no incident opens for a quiet check, an open incident of a quiet
check pages no further level, and a check still failing when its quiet time ends is paged.

`QuietView` puts together what core/quiet.py decides from: the config's `[[maintenance]]`
windows with the dependency graph and the checks' labels (rebuilt when the config changes)
and the stored silences, read through the caller's connection, so a silence `escalatord
silence add` wrote from another process counts at once. Nothing about quiet times is kept in
memory that a restart could lose: windows are config and silences are rows.

`unopened` finds the failures a quiet time held: checks whose hard status is a problem
(warning, critical, unknown; not unreachable, which never pages) with no open incident and no
incident opened since that failure began. The engine opens theirs when a quiet time ends
(`Engine.release`, run by calendar/quiet.py's jobs and at start).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core import topology
from escalatord.core.quiet import Quiet, QuietTimes, Window
from escalatord.core.status import Status
from escalatord.quiet import silences
from escalatord.store.db import Store
from escalatord.store.tables import check_states, incidents, timeline
from escalatord.store.tables import silences as silence_rows

if TYPE_CHECKING:
    from escalatord.config.model import Config

log = structlog.get_logger("escalatord.quiet")

PROBLEMS = (Status.WARNING.value, Status.CRITICAL.value, Status.UNKNOWN.value)
# An incident opened this soon before the failure's `since` belongs to it: `since` is the
# result's time, the incident's `opened_at` when the engine took it, a little later or earlier.
_SAME_FAILURE = timedelta(minutes=1)


class QuietView:
    """What is quiet, for the engine, the calendar and the API (module docstring)."""

    def __init__(self, config: Callable[[], Config]):
        self._config = config
        self._built: tuple[Config, QuietTimes] | None = None
        self.quiet_now: dict[str, Quiet] = {}  # configured checks quiet at the last `read`

    def static(self) -> QuietTimes:
        """The config's windows, graph and labels, without silences (rebuilt on reload)."""
        config = self._config()
        if self._built is None or self._built[0] is not config:
            windows: list[Window] = [m.window() for m in config.maintenance]
            graph = topology.graph(
                (c.name, c.depends_on, c.depends_on_any) for c in config.checks if c.enabled
            )
            by_name = config.check_by_name
            times = QuietTimes(
                windows=windows,
                graph=graph,
                labels_of=lambda name: by_name[name].labels if name in by_name else None,
            )
            self._built = (config, times)
        return self._built[1]

    async def times(self, conn: AsyncConnection, now: datetime) -> QuietTimes:
        """Windows and the silences stored now (in force or still to come)."""
        static = self.static()
        stored = await silences.in_force(conn, now)
        return QuietTimes(static.windows, stored, static.graph, static.labels_of)

    async def read(self, store: Store, now: datetime) -> QuietTimes:
        """`times` in a read transaction of its own (the calendar's jobs, the API); also
        notes which configured checks are quiet at `now`, for /metrics (`metrics`)."""
        async with store.read() as conn:
            times = await self.times(conn, now)
        checks = self._config().checks
        found = ((c.name, times.of(c.name, c.labels, now)) for c in checks if c.enabled)
        self.quiet_now = {name: quiet for name, quiet in found if quiet is not None}
        return times

    def metrics(self) -> Iterator[tuple[str, str, str, list[tuple[str, float]]]]:
        """/metrics: the checks quiet at the last look (the calendar looks every 5s)."""
        yield (
            "escalatord_checks_quiet",
            "gauge",
            "Checks in maintenance now (a [[maintenance]] window or a silence): they run, "
            "but open no incident and page nobody.",
            [("", len(self.quiet_now))],
        )
        yield (
            "escalatord_check_quiet",
            "gauge",
            "1 for each check in maintenance now, by check.",
            [(f'{{check="{_label(name)}"}}', 1) for name in sorted(self.quiet_now)],
        )

    async def note(self, store: Store, at: datetime, edge: str, what: str) -> int:
        """At the `edge` ("start" | "end") of `what` ("maintenance NAME", "silence N"): an
        entry on the timeline of each open incident it covers; returns how many."""
        async with store.write() as conn:
            times = await self.times(conn, at)
            window = next((w for w in times.windows if f"maintenance {w.name}" == what), None)
            silence = next((s for s in times.silences if f"silence {s.id}" == what), None)
            if window is not None:
                until = window.until(at)

                def covers(check: str, labels: dict[str, str]) -> bool:
                    return times.window_covers(window, check, labels)
            elif silence is not None:
                until = silence.end

                def covers(check: str, labels: dict[str, str]) -> bool:
                    return silence.cover.covers(check, labels)
            else:
                return 0  # gone meanwhile (a reload, a removed silence: noted when removed)
            if edge == "start":
                shown = until.isoformat() if until is not None else "its end"
                message = f"{what} began: no level is paged until {shown}"
            else:
                message = f"{what} ended: levels that fell due are paged now"
            rows = await conn.execute(
                select(incidents.c.id, incidents.c.check, incidents.c.labels).where(
                    incidents.c.status.in_(silences.OPEN)
                )
            )
            entries = [
                {"incident_id": r.id, "at": at, "kind": "quiet", "actor": "escalatord",
                 "message": message, "data": {"quiet": what, "edge": edge}}
                for r in rows.all()
                if covers(r.check, r.labels or {})
            ]  # fmt: skip
            if entries:
                await conn.execute(insert(timeline), entries)
            return len(entries)

    def labels(self, check: str) -> dict[str, str]:
        found = self._config().check_by_name.get(check)
        return dict(found.labels) if found is not None else {}

    async def holds(
        self, conn: AsyncConnection, check: str, labels: dict[str, str], now: datetime
    ) -> bool:
        """Whether `check` is quiet now: its incident is not opened (logged, with why)."""
        if not self.static().windows and not await _any_silence(conn, now):
            return False  # the common case costs one indexed look at the silences
        quiet = (await self.times(conn, now)).of(check, labels, now)
        if quiet is not None:
            log.info("held_quiet", check=check, why=list(quiet.why), until=quiet.until.isoformat())
        return quiet is not None

    async def held(self, conn: AsyncConnection, rows: Sequence[Any], now: datetime) -> set[int]:
        """The ids of the due incidents in `rows` whose check is quiet now: they page nothing
        until their quiet time ends (incidents/ladder.py's `held`)."""
        if not self.static().windows and not await _any_silence(conn, now):
            return set()
        times = await self.times(conn, now)
        return {row.id for row in rows if times.of(row.check, row.labels or {}, now) is not None}


def _label(value: str) -> str:
    """A Prometheus label value: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


async def _any_silence(conn: AsyncConnection, now: datetime) -> bool:
    stmt = (
        select(func.count())
        .select_from(silence_rows)
        .where(
            silence_rows.c.removed_at.is_(None),
            silence_rows.c.ends_at > now,
            silence_rows.c.starts_at <= now,
        )
    )
    return bool((await conn.execute(stmt)).scalar())


async def unopened(conn: AsyncConnection) -> list[tuple[str, Status, str]]:
    """(check, hard status, last summary) of each failing check whose failure has no incident
    (module docstring): what a quiet time held back."""
    failing = (
        await conn.execute(
            select(
                check_states.c.check,
                check_states.c.status,
                check_states.c.since,
                check_states.c.last_summary,
            )
            .where(check_states.c.status.in_(PROBLEMS))
            # A flapping check's failures are its flapping incident's (escalation/flapping.py);
            # one that stops flapping while quiet is picked up here once flapping is 0.
            .where(func.coalesce(check_states.c.flapping, 0) == 0)
        )
    ).all()
    if not failing:
        return []
    names = [row.check for row in failing]
    latest = (
        await conn.execute(
            select(
                incidents.c.key,
                func.max(incidents.c.opened_at).label("opened_at"),
                func.max(incidents.c.open_key).label("open_key"),
            )
            .where(incidents.c.key.in_(names))
            .group_by(incidents.c.key)
        )
    ).all()
    opened = {row.key: row.opened_at for row in latest}
    still_open = {row.key for row in latest if row.open_key is not None}
    found = []
    for row in failing:
        last = opened.get(row.check)
        if row.check in still_open:
            continue
        if last is not None and (row.since is None or last >= row.since - _SAME_FAILURE):
            continue  # paged (or closed by hand) already: this failure had its incident
        found.append((row.check, Status(row.status), row.last_summary or ""))
    return found
