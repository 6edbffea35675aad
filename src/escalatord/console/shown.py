"""How the on-call, silences, plan and reports pages show times and durations: the Jinja2
filters `at_zone` ("Mon 2026-03-30 09:00 CEST" in a given zone, as the command line's tables
print instants) and `seconds` (a duration in seconds as "4m30s", "-" for none, as `escalatord
report` prints MTTA and MTTR)."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from jinja2 import Environment

from escalatord.core.durations import format_duration


def at_zone(instant: datetime | None, zone: tzinfo) -> str:
    """`instant` on the wall clock of `zone`, the zone's abbreviation after it."""
    if instant is None:
        return "—"
    local = instant.astimezone(zone)
    seconds = f":{local.second:02d}" if local.second else ""
    return f"{local:%a %Y-%m-%d %H:%M}{seconds} {local.tzname()}"


def seconds(value: float | None) -> str:
    """A measured time in seconds, rounded to the second; "-" when there is none."""
    return "-" if value is None else format_duration(timedelta(seconds=round(value)))


def install(env: Environment) -> None:
    """Add the filters to the console's templates (each page module calls it; once is enough)."""
    env.filters.setdefault("at_zone", at_zone)
    env.filters.setdefault("seconds", seconds)
