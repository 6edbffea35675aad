"""Local wall-clock times of rotas: "YYYY-MM-DD HH:MM" instants and weekly windows. Pure.

Config validation (config/people.py) and on-call resolution (core/oncall.py) share these
parsers, so a text check-config accepts is read the same way when a page goes out.

A local time becomes an instant with `local_instant`, the one rule for wall times that a
daylight-saving change makes odd (PEP 495, fold=0):
- a time that happens twice (the autumn night's repeated hour) is its FIRST occurrence;
- a time that never happens (skipped by spring-forward) is read with the offset in force
  before the change, so it lands as far past the jump as it was written past the last valid
  minute: 02:30 on the Europe/Berlin spring-forward night is 03:30 CEST.

Window syntax (`restrict = [...]`), days in the schedule's zone:

    [DAYS ]HH:MM-HH:MM      DAYS: mon, tue, wed, thu, fri, sat, sun, a range "mon-fri" (may
                            wrap: "fri-mon"), or a comma list "mon,wed,fri-sun"; no DAYS:
                            every day. The end may be 24:00 (midnight after the day).
    "mon-fri 08:00-18:00"   weekdays, 08:00 until 18:00
    "sat 00:00-24:00"       all of Saturday
    "mon 22:00-06:00"       overnight: opens Monday 22:00, closes Tuesday 06:00 (an end
                            earlier than the start closes the next day)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_A_DAY = 24 * 60
WINDOW_EXAMPLES = '"mon-fri 08:00-18:00", "sat 00:00-24:00" or "mon 22:00-06:00" (overnight)'
_WINDOW = re.compile(r"^(?:(?P<days>.*?)\s+)?(?P<start>\d+:\d+)\s*-\s*(?P<end>\d+:\d+)$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_LOCAL = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
LOCAL_EXAMPLE = '"2026-01-05 09:00"'


@dataclass(frozen=True)
class Window:
    """A weekly window: it opens at `start` on each of `days` and closes at `end`.

    `days` are weekdays, 0 = Monday. `start` and `end` are minutes after local midnight; `end`
    is at most 1440 (24:00) and, when not after `start`, falls on the next day (overnight).
    """

    days: frozenset[int]
    start: int
    end: int
    text: str = ""

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def occurrences(self, first: date, last: date, zone: tzinfo) -> list[tuple[datetime, datetime]]:
        """The (opens, closes) instants, UTC, of the window opening on local days first..last."""
        found = []
        day = first
        while day <= last:
            if day.weekday() in self.days:
                midnight = datetime(day.year, day.month, day.day)
                opens = midnight + timedelta(minutes=self.start)
                closes = midnight + timedelta(minutes=self.end)
                if self.overnight:
                    closes += timedelta(days=1)
                found.append((local_instant(opens, zone), local_instant(closes, zone)))
            day += timedelta(days=1)
        return found

    def contains(self, at: datetime, zone: tzinfo) -> bool:
        """Whether the instant `at` is inside one of the window's occurrences."""
        today = at.astimezone(zone).date()
        # An occurrence that opened yesterday may still be open (overnight, or shifted by a
        # DST change); tomorrow's cannot have opened yet, but costs nothing to ask.
        spans = self.occurrences(today - timedelta(days=1), today + timedelta(days=1), zone)
        return any(opens <= at < closes for opens, closes in spans)


def local_instant(wall: datetime, zone: tzinfo) -> datetime:
    """The UTC instant of the naive local time `wall` in `zone` (module docstring: DST rule)."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def parse_local_time(value: object) -> datetime:
    """A naive local datetime from "YYYY-MM-DD HH:MM" (or a TOML local date-time).

    Raises ValueError saying how to write it: a date without a time of day and a time with a
    UTC offset are refused, as the schedule's zone is what places it.
    """
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise ValueError(
                f"write a local time without an offset, e.g. {LOCAL_EXAMPLE}: "
                "the schedule's timezone places it"
            )
        return value
    if isinstance(value, date):
        raise ValueError(f"needs a time of day, e.g. {LOCAL_EXAMPLE}")
    found = _LOCAL.match(value.strip()) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f'write a local time as "YYYY-MM-DD HH:MM", e.g. {LOCAL_EXAMPLE}')
    year, month, day, hour, minute, second = found.groups()
    if hour is None:
        raise ValueError(f"needs a time of day, e.g. {LOCAL_EXAMPLE}")
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
    except ValueError as exc:
        raise ValueError(f"is not a valid date and time ({exc}); e.g. {LOCAL_EXAMPLE}") from None


def parse_window(text: str) -> Window:
    """Parse a restrict window such as "mon-fri 08:00-18:00" (module docstring: the syntax).

    Raises ValueError quoting the text, what is wrong and how to write it.
    """
    found = _WINDOW.match(text.strip()) if isinstance(text, str) else None
    if found is None:
        raise ValueError(f"restrict window {text!r} is not valid: write e.g. {WINDOW_EXAMPLES}")
    days = _parse_days(found["days"], text) if found["days"] else frozenset(range(7))
    start = _parse_clock(found["start"], text, allow_24=False)
    end = _parse_clock(found["end"], text, allow_24=True)
    if start == end:
        raise ValueError(
            f"restrict window {text!r} opens and closes at the same time; for a whole day "
            'write "00:00-24:00"'
        )
    return Window(days, start, end, text.strip())


def _parse_days(spec: str, text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in spec.replace(" ", "").lower().split(","):
        ends = part.split("-")
        if len(ends) > 2 or not all(ends):
            raise ValueError(
                f"restrict window {text!r}: {part!r} is not a day or a range of days; "
                f"write e.g. {WINDOW_EXAMPLES}"
            )
        numbers = [_day(name, text) for name in ends]
        first, last = numbers[0], numbers[-1]
        # A range may wrap around the week's end: "fri-mon" is fri, sat, sun, mon.
        days.update((first + i) % 7 for i in range((last - first) % 7 + 1))
    return frozenset(days)


def _day(name: str, text: str) -> int:
    if name not in DAY_NAMES:
        raise ValueError(
            f"restrict window {text!r}: unknown weekday {name!r}; "
            f"write {', '.join(DAY_NAMES[:-1])} or {DAY_NAMES[-1]}, e.g. {WINDOW_EXAMPLES}"
        )
    return DAY_NAMES.index(name)


def _parse_clock(clock: str, text: str, allow_24: bool) -> int:
    found = _CLOCK.match(clock)
    hours, minutes = (int(found[1]), int(found[2])) if found else (-1, -1)
    valid = (0 <= hours <= 23 and 0 <= minutes <= 59) or (allow_24 and (hours, minutes) == (24, 0))
    if not valid:
        latest = "00:00 to 24:00" if allow_24 else "00:00 to 23:59"
        raise ValueError(
            f"restrict window {text!r}: {clock!r} is not a time of day ({latest}, as HH:MM); "
            f"write e.g. {WINDOW_EXAMPLES}"
        )
    return hours * 60 + minutes
