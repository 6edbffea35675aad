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
silent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from escalatord.checks.base import Check, CheckConfig, CheckContext
from escalatord.core.durations import format_duration
from escalatord.core.relay import silence
from escalatord.core.state import Settings
from escalatord.core.status import Judged, Result, Status
from escalatord.fields import Duration

if TYPE_CHECKING:
    from escalatord.store.db import Store

PREFIX = "satellite:"  # link checks' names; reserved (the loader refuses it on a [[check]])
LINK = "satellite_link"
RELAYED = "satellite_relayed"
_ARRIVALS = "satellite-arrivals"


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
    """When each satellite's last batch arrived, in this process (not stored)."""

    def __init__(self) -> None:
        self.started = datetime.now(UTC)
        self.last: dict[str, datetime] = {}
        # Each satellite's silent_after, from its link check (its relayed checks read it).
        self.silent_after: dict[str, timedelta] = {}

    def touch(self, satellite: str, now: datetime) -> None:
        self.last[satellite] = max(now, self.last.get(satellite, now))

    def last_heard(self, satellite: str) -> datetime:
        """The last batch's arrival, or this process's start: a satellite is given
        `silent_after` after a restart before it counts as silent."""
        return self.last.get(satellite, self.started)


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
        return self.judge(now)


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
        after = self.arrivals.silent_after.get(self.satellite, timedelta(minutes=1))
        quiet = silence(self.arrivals.last_heard(self.satellite), now, after)
        if not quiet.silent:
            return Judged(None, wake=quiet.deadline)
        since = quiet.last_heard.strftime("%Y-%m-%d %H:%M:%S UTC")
        summary = f"no result: the {self.satellite} satellite is silent since {since}"
        settings = Settings.immediate(self.config.interval)
        return Judged((Result(Status.UNREACHABLE, summary, at=now), settings))
