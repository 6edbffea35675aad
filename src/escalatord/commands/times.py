"""TIME on the command line (`oncall --at`, `--from`, `--until`) and times as it prints them.

A TIME is read in two steps: `parse_time` checks the text at once (a typo is a usage error
before the config is even loaded) and `TimeSpec.instant` places it in a schedule's zone:

    "2026-03-29 09:00"          a wall time in the schedule's zone ("T" for the space and
                                seconds also do); a time the DST change skips or repeats is
                                placed as the rota places it (core/timewindows.local_instant)
    "2026-03-29 09:00+02:00"    an instant: with a UTC offset, or "Z" for UTC
    "now"                       the moment the command runs
    "+2h", "in 2h", "-1d", "3h ago"   that long after (before) now: a duration as config writes it

Every instant printed is shown in the schedule's zone with the zone's abbreviation, so a time
on either side of a DST change cannot be misread: "Mon 2026-03-30 09:00 CEST".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from escalatord.core.durations import parse_duration
from escalatord.core.timewindows import local_instant

TIME_EXAMPLES = (
    '"2026-03-29 09:00" (in the schedule\'s time zone), "2026-03-29 09:00+02:00", "now", '
    '"+2h" or "in 2h"'
)
_DATE_TIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})(?:[ T](?P<time>\d{1,2}:\d{2}(?::\d{2})?)"
    r"\s*(?P<offset>Z|[+-]\d{2}:?\d{2})?)?$",
    re.IGNORECASE,
)
_RELATIVE = re.compile(r"^(?:(?P<sign>[+-])\s*|in\s+)(?P<d>\S.*)$|^(?P<ago>\S.*?)\s+ago$")


@dataclass(frozen=True)
class TimeSpec:
    """A parsed TIME: a naive `wall` time (placed in a zone later), an aware `fixed` instant,
    or an `offset` from now (timedelta(0) for "now"). Exactly one is set."""

    text: str
    wall: datetime | None = None
    fixed: datetime | None = None
    offset: timedelta | None = None

    def instant(self, zone: tzinfo, now: datetime) -> datetime:
        """The UTC instant this TIME names, a wall time being read in `zone`."""
        if self.wall is not None:
            return local_instant(self.wall, zone)
        if self.fixed is not None:
            return self.fixed.astimezone(UTC)
        assert self.offset is not None
        return now.astimezone(UTC) + self.offset


def parse_time(text: str) -> TimeSpec:
    """Parse a TIME (module docstring); ValueError saying how to write one otherwise."""
    value = text.strip()
    if value.lower() == "now":
        return TimeSpec(text, offset=timedelta(0))
    relative = _RELATIVE.match(value)
    if relative:
        try:
            offset = parse_duration(relative["d"] or relative["ago"])
        except ValueError as exc:
            raise ValueError(f"{text!r}: {exc}; a TIME is {TIME_EXAMPLES}") from None
        back = relative["sign"] == "-" or relative["ago"] is not None
        return TimeSpec(text, offset=-offset if back else offset)
    found = _DATE_TIME.match(value)
    if found is None:
        raise ValueError(f"{text!r} is not a time: a TIME is {TIME_EXAMPLES}")
    if found["time"] is None:
        raise ValueError(f"{text!r} needs a time of day: a TIME is {TIME_EXAMPLES}")
    offset_text = (found["offset"] or "").upper().replace("Z", "+00:00")
    hour, minutes = found["time"].split(":", 1)
    try:
        when = datetime.fromisoformat(f"{found['date']}T{hour:0>2}:{minutes}{offset_text}")
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not a valid date and time ({exc}): a TIME is {TIME_EXAMPLES}"
        ) from None
    if when.tzinfo is not None:
        return TimeSpec(text, fixed=when)
    return TimeSpec(text, wall=when)


def shown(instant: datetime, zone: tzinfo) -> str:
    """`instant` as the tables print it: "Mon 2026-03-30 09:00 CEST" in `zone`."""
    local = instant.astimezone(zone)
    return (
        local.strftime("%a %Y-%m-%d %H:%M")
        + (f":{local.second:02d}" if local.second else "")
        + f" {local.tzname()}"
    )


def iso(instant: datetime | None, zone: tzinfo) -> str | None:
    """`instant` as JSON gives it: ISO 8601 with the zone's offset at that instant."""
    return None if instant is None else instant.astimezone(zone).isoformat()
