"""`[[satellite]]`: remote offices whose checks a satellite process runs (docs/satellites.md).

    [[satellite]]
    name = "boston"                         # its URL: /api/v1/satellites/boston/…
    sites = ["boston"]                      # it runs the [[check]]s with these labels.site
    token = "${BOSTON_SATELLITE_TOKEN}"     # or token_file; at least 16 characters; a secret
    silent_after = "1m"                     # no batch for this long: the satellite is silent
    # slack = "10s"                         # how late a fresh result may arrive (core/relay.py)
    # labels = { category = "remote-office" }   # extra labels of its link check, for rules

The checks of those sites (active ones: heartbeats and traps still come to the central
daemon) are run by the satellite only, never by the central daemon nor any cluster node. The
loader adds a link check `satellite:<name>` per satellite and makes each of its checks depend
on it (`attach`), so a silent satellite is one root cause, not a page per check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta

from pydantic import Field, field_validator

from escalatord import plugins
from escalatord.checks.base import CheckConfig
from escalatord.config.cluster import ClusterSection
from escalatord.config.items import Item
from escalatord.fields import Duration, Strict, secret_token
from escalatord.satellite.link import LINK, PREFIX, RELAYED, SatelliteLinkConfig, link_name

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
SILENT_AFTER_MIN = timedelta(seconds=2)


class SatelliteConfig(Strict):
    name: str = Field(min_length=1, max_length=100, pattern=NAME)
    sites: tuple[str, ...] = Field(min_length=1)
    token: str = Field(repr=False)
    silent_after: Duration = timedelta(minutes=1)
    slack: Duration = timedelta(seconds=10)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("token")
    @classmethod
    def _token(cls, value: str) -> str:
        return secret_token(value, ', e.g. token = "${BOSTON_SATELLITE_TOKEN}"')

    @field_validator("silent_after")
    @classmethod
    def _silent_after(cls, value: timedelta) -> timedelta:
        if value < SILENT_AFTER_MIN:
            raise ValueError(
                'silent_after must be at least "2s"; a satellite pushes every few seconds, so '
                'give it several pushes, e.g. silent_after = "1m" (the default)'
            )
        return value

    @field_validator("slack")
    @classmethod
    def _slack(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError('slack must be 0s or longer, e.g. slack = "10s" (the default)')
        return value


class SatelliteSection(ClusterSection):
    """The base of the whole config (config/model.py `Config`) holding `[[satellite]]` (and,
    through ClusterSection, `[cluster]`: each section's model lives in its own module)."""

    satellites: tuple[SatelliteConfig, ...] = Field(default=(), alias="satellite")


def _active(config: CheckConfig) -> bool:
    """Whether a satellite can run the check: passive ones (heartbeats, traps) get their
    signals at the central daemon and stay there."""
    try:
        return plugins.load("checks", config.type).kind == "active"
    except Exception:  # an unloadable type is reported by its [[check]] already
        return False


def attach(
    checks: Sequence[CheckConfig], satellites: Sequence[SatelliteConfig]
) -> tuple[CheckConfig, ...]:
    """`checks` with each satellite's site checks depending on its link check, and the link
    checks after them."""
    if not satellites:
        return tuple(checks)
    by_site = {site: s for s in satellites for site in s.sites}
    out: list[CheckConfig] = []
    for check in checks:
        served = by_site.get(check.labels.get("site", ""))
        if served is not None and _active(check):
            check = check.model_copy(
                update={"depends_on": (*check.depends_on, link_name(served.name))}
            )
        out.append(check)
    for s in satellites:
        site = {"site": s.sites[0]} if len(s.sites) == 1 else {}
        out.append(
            SatelliteLinkConfig(
                name=link_name(s.name),
                satellite=s.name,
                sites=s.sites,
                silent_after=s.silent_after,
                interval=s.silent_after,
                retry_interval=s.silent_after,
                labels={**site, "satellite": s.name, **s.labels},
                description=f"the {s.name} satellite's link (sites {', '.join(s.sites)})",
            )
        )
    return tuple(out)


def check_satellites(items: Iterable[Item], at: Callable[[Item, str, str], None]) -> None:
    """Reserved check names and types, sites no check uses, a site served twice."""
    items = list(items)
    sites_used: set[str] = set()
    for item in items:
        if item.kind != "check":
            continue
        if item.name and item.name.startswith(PREFIX):
            reserved = f"check names starting with {PREFIX!r} are reserved for the links of "
            at(item, "name", reserved + "[[satellite]] sections; rename the check")
        if item.data.get("type") in (LINK, RELAYED):
            made = f"{item.data['type']!r} checks are made by [[satellite]] sections, "
            at(item, "type", made + "not written as a [[check]]; add a [[satellite]] instead")
        labels = item.data.get("labels")
        if isinstance(labels, dict) and isinstance(labels.get("site"), str):
            sites_used.add(labels["site"])
    served_by: dict[str, str] = {}
    for item in items:
        if item.kind != "satellite":
            continue
        sites = item.list("sites")
        for index, site in enumerate(sites):
            if not isinstance(site, str):
                continue
            first = served_by.setdefault(site, item.name or "?")
            if first != (item.name or "?"):
                twice = f"site {site!r} is already served by [[satellite]] {first!r}; "
                at(item, f"sites[{index}]", twice + "a site's checks are run by one satellite")
            elif site not in sites_used:
                known = ", ".join(sorted(sites_used)) or "none"
                unused = f"no [[check]] has labels.site = {site!r} (sites in use: {known}); "
                fix = f'fix the name, or give the office\'s checks labels = {{ site = "{site}" }}'
                at(item, f"sites[{index}]", unused + fix)
