"""The central daemon's checks for satellites: one link check per satellite, and the checks it
runs, relayed.

For each `[[satellite]]` the loader adds a passive check named `satellite:<name>` (type
`satellite_link`) and makes every check of the satellite's sites depend on it
(config/satellites.py). The link check is critical once no batch arrived for `silent_after`:
the site's checks then go unreachable behind it, so their silence is one root-cause incident
("boston satellite silent — 40 checks unreachable (site boston): …"), never forty pages.

The checks a satellite serves are built as `satellite_relayed` checks (`check_type`): passive,
never probed by the central daemon or a cluster node; their results arrive from the satellite
(satellite/routes.py). While the satellite is silent, each is judged unreachable ("no result").

When each satellite was last heard is kept in this process (`Arrivals`, shared through the
CheckContext), so after a restart a satellite has `silent_after` to report before it counts as
silent. In a cluster each batch's arrival is also stored (satellite/shared.py): a satellite may
push to any node, and the node owning its link check (or one of its checks) reads the stored
arrivals before judging silence, and at every catch-up round (`relayed`), where the owner of a
relayed check also applies the results other nodes received for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from escalatord.checks.base import Check, CheckConfig, CheckContext
from escalatord.core.durations import format_duration
from escalatord.core.relay import Fate, held_fate, silence
from escalatord.core.state import Settings
from escalatord.core.status import Judged, Result, Status
from escalatord.fields import Duration

if TYPE_CHECKING:
    from escalatord.store.db import Store

PREFIX = "satellite:"  # link checks' names; reserved (the loader refuses it on a [[check]])
LINK = "satellite_link"
RELAYED = "satellite_relayed"
_ARRIVALS = "satellite-arrivals"
log = structlog.get_logger("escalatord.satellite")


def link_name(satellite: str) -> str:
    return f"{PREFIX}{satellite}"


def satellite_of(config: CheckConfig) -> str | None:
    """The satellite that runs `config`'s check (its implicit parent), or None."""
    for parent in config.depends_on:
        if parent.startswith(PREFIX):
            return parent.removeprefix(PREFIX)
    return None


def check_type(config: CheckConfig) -> str:
    """The registry name the daemon builds `config` with: a satellite's check is relayed."""
    return RELAYED if satellite_of(config) else config.type


class Arrivals:
    """When each satellite's last batch arrived: in this process, and in a cluster also at
    the other nodes (read from the store by `refresh`)."""

    def __init__(self) -> None:
        self.started = datetime.now(UTC)
        self.last: dict[str, datetime] = {}
        # Each satellite's silent_after, from its link check (its relayed checks read it).
        self.silent_after: dict[str, timedelta] = {}
        # Set once this process is a node of a cluster: arrivals are then stored, and read
        # back before judging silence. A single node keeps them in memory only.
        self.clustered = False

    def touch(self, satellite: str, now: datetime) -> None:
        self.last[satellite] = max(now, self.last.get(satellite, now))

    def learn(self, stored: Mapping[str, datetime]) -> None:
        """Take the arrivals other nodes stored (kept where this node heard later)."""
        for satellite, at in stored.items():
            self.touch(satellite, at)

    def last_heard(self, satellite: str) -> datetime:
        """The last batch's arrival, or this process's start: a satellite is given
        `silent_after` after a restart before it counts as silent."""
        return max(self.last.get(satellite, self.started), self.started)

    async def refresh(self, store: Store) -> None:
        """In a cluster, learn the arrivals stored by every node; when the store is out of
        reach, what this node heard itself decides (nothing on a single node)."""
        if not self.clustered:
            return
        from escalatord.satellite import shared  # SQLAlchemy only where it runs

        try:
            async with store.read() as conn:
                self.learn(await shared.last_heard(conn))
        except Exception as exc:
            log.warning("satellite_arrivals_unread", error=type(exc).__name__)


def arrivals(context: CheckContext) -> Arrivals:
    """The daemon's one Arrivals (made on first use)."""
    return context.shared(_ARRIVALS, Arrivals)


class SatelliteLinkConfig(CheckConfig):
    type: str = LINK
    satellite: str
    sites: tuple[str, ...] = ()
    silent_after: Duration = timedelta(minutes=1)

    @property
    def incident_title(self) -> str:
        """The title of its incident (incidents/rootcause.py appends the affected checks)."""
        return f"{self.satellite} satellite silent"


class SatelliteLink(Check):
    """Critical while its satellite is silent; judged at the instant it becomes silent."""

    Config = SatelliteLinkConfig
    kind = "passive"
    config: SatelliteLinkConfig

    def __init__(self, config: CheckConfig, context: CheckContext):
        super().__init__(config, context)
        self.arrivals = arrivals(context)
        self.arrivals.silent_after[self.config.satellite] = self.config.silent_after

    async def probe(self) -> Result:
        raise RuntimeError("a satellite link is judged from the batches that arrive, not probed")

    def judge(self, now: datetime) -> Judged:
        """The link's verdict at `now`; `wake`: when it turns silent without another batch."""
        cfg = self.config
        quiet = silence(self.arrivals.last_heard(cfg.satellite), now, cfg.silent_after)
        ago = format_duration(timedelta(seconds=int((now - quiet.last_heard).total_seconds())))
        settings = Settings.immediate(cfg.interval)
        if quiet.silent:
            summary = f"{cfg.satellite} satellite silent: no results for {ago}"
            return Judged((Result(Status.CRITICAL, summary, at=now), settings))
        summary = f"{cfg.satellite} satellite reporting: last batch {ago} ago"
        return Judged((Result(Status.OK, summary, at=now), settings), wake=quiet.deadline)

    async def evaluate(self, store: Store, now: datetime) -> Judged:
        await self.arrivals.refresh(store)
        return self.judge(now)

    @classmethod
    async def relayed(
        cls,
        store: Store,
        checks: Sequence[SatelliteLink],
        judged_at: Mapping[str, datetime | None],
        now: datetime,
    ) -> list[tuple[str, datetime, Judged]]:
        """A node of a cluster owning these link checks (monitor/handover.py `catch_up`): each
        one whose satellite pushed to any node since it was last judged is judged again now,
        so a satellite heard again at another node recovers within a round."""
        if not checks:
            return []
        arrivals = checks[0].arrivals
        arrivals.clustered = True
        await arrivals.refresh(store)
        found = []
        for link in checks:
            heard = arrivals.last.get(link.config.satellite)
            last = judged_at.get(link.name)
            if heard is not None and (last is None or heard > last):
                found.append((link.name, heard, link.judge(now)))
        return found


class RelayedCheck(Check):
    """A check a satellite runs: never probed here. While its satellite is silent it is judged
    unreachable ("no result"); otherwise only the satellite's results change it."""

    kind = "passive"

    def __init__(self, config: CheckConfig, context: CheckContext):
        super().__init__(config, context)
        self.satellite = satellite_of(config) or ""
        self.arrivals = arrivals(context)

    async def probe(self) -> Result:
        raise RuntimeError(f"{self.name} is run by the {self.satellite} satellite, not here")

    async def evaluate(self, store: Store, now: datetime) -> Judged:
        await self.arrivals.refresh(store)
        after = self.arrivals.silent_after.get(self.satellite, timedelta(minutes=1))
        quiet = silence(self.arrivals.last_heard(self.satellite), now, after)
        if not quiet.silent:
            return Judged(None, wake=quiet.deadline)
        since = quiet.last_heard.strftime("%Y-%m-%d %H:%M:%S UTC")
        summary = f"no result: the {self.satellite} satellite is silent since {since}"
        settings = Settings.immediate(self.config.interval)
        return Judged((Result(Status.UNREACHABLE, summary, at=now), settings))

    @classmethod
    async def relayed(
        cls,
        store: Store,
        checks: Sequence[RelayedCheck],
        judged_at: Mapping[str, datetime | None],
        now: datetime,
    ) -> list[tuple[str, datetime, Judged]]:
        """A node of a cluster owning these checks (monitor/handover.py `catch_up`): the
        results other nodes received for them (satellite/shared.py), claimed and deleted in
        one transaction, oldest first. Each fresh one newer than the check's last applied
        result is returned to be fed at its original time; the others are recorded only."""
        from escalatord.satellite import shared  # SQLAlchemy only where it runs

        if not checks:
            return []
        arrivals = checks[0].arrivals
        arrivals.clustered = True
        by_name = {c.name: c for c in checks}
        async with store.write() as conn:
            arrivals.learn(await shared.last_heard(conn))
            held, dropped = await shared.claim(conn, by_name, now)
        if dropped:
            log.warning(
                "satellite_results_dropped",
                results=dropped,
                reason=f"no node applied them within {format_duration(shared.ORPHANED_AFTER)}: "
                "their checks left the config or were disabled",
            )
        last = dict(judged_at)
        found = []
        for row in held:
            check, at = by_name[row.check], row.result.at
            assert at is not None
            verdict = held_fate(
                at, row.received_at, now, last.get(row.check), check.config.interval
            )
            if verdict is Fate.APPLIED:
                last[row.check] = at
                found.append((row.check, at, Judged((row.result, check.config))))
                continue
            # For the record only, as when the node that received it records a result.
            log.info(
                "satellite_result_recorded",
                satellite=row.satellite,
                check=row.check,
                fate=verdict.value,
                status=row.result.status.value,
                summary=row.result.summary,
                at=at.isoformat(),
                received_at=row.received_at.isoformat(),
            )
        return found
