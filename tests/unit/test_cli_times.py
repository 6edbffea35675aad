"""TIME on the command line (commands/times.py): every form `oncall --at/--from/--until`
accepts, where each lands in a schedule's zone across DST, and the refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from escalatord.commands.times import iso, parse_time, shown

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 28, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-28 12:00", datetime(2026, 3, 28, 11, 0, tzinfo=UTC)),  # CET
        ("2026-03-30 9:00", datetime(2026, 3, 30, 7, 0, tzinfo=UTC)),  # CEST
        ("2026-03-29T02:30", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),  # skipped: 03:30 CEST
        ("2026-10-25 02:30", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # twice: the first
        ("2026-03-28 12:00:30", datetime(2026, 3, 28, 11, 0, 30, tzinfo=UTC)),
        ("2026-03-28 12:00+05:30", datetime(2026, 3, 28, 6, 30, tzinfo=UTC)),
        ("2026-03-28 12:00-0400", datetime(2026, 3, 28, 16, 0, tzinfo=UTC)),
        ("2026-03-28T12:00Z", datetime(2026, 3, 28, 12, 0, tzinfo=UTC)),
        ("2026-03-28 12:00 z", datetime(2026, 3, 28, 12, 0, tzinfo=UTC)),
        ("now", NOW),
        (" NOW ", NOW),
        ("+2h", NOW + timedelta(hours=2)),
        ("in 1d12h", NOW + timedelta(days=1, hours=12)),
        ("-90m", NOW - timedelta(minutes=90)),
        ("3h ago", NOW - timedelta(hours=3)),
    ],
)
def test_each_form_names_its_instant(text, expected):
    """A wall time is read in the schedule's zone (DST rule of the rota), an offset or Z
    names the instant, now and relative durations count from now."""
    assert parse_time(text).instant(BERLIN, NOW) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("tomorrow", "'tomorrow' is not a time"),
        ("2026-03-28", "'2026-03-28' needs a time of day"),
        ("2026-02-30 09:00", "is not a valid date and time (day is out of range for month)"),
        ("2026-03-28 24:00", "is not a valid date and time"),
        ("2026-03-28 12:00+5", "is not a time"),
        ("+2", "invalid duration '2'"),
        ("in soon", "invalid duration 'soon'"),
        ("", "'' is not a time"),
    ],
)
def test_a_bad_time_says_what_is_wrong_and_the_forms(text, why):
    """Each refusal quotes the text, says what is wrong and lists the forms with examples."""
    with pytest.raises(ValueError) as caught:
        parse_time(text)
    assert why in str(caught.value)
    assert '"2026-03-29 09:00" (in the schedule\'s time zone)' in str(caught.value)
    assert '"now", "+2h" or "in 2h"' in str(caught.value)


def test_times_are_shown_in_the_zone_with_its_abbreviation():
    """Tables show the weekday, the local time and the abbreviation (seconds only when some);
    JSON gives ISO 8601 with the offset in force, or null."""
    spring = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert shown(spring - timedelta(hours=1), BERLIN) == "Sun 2026-03-29 01:00 CET"
    assert shown(spring, BERLIN) == "Sun 2026-03-29 03:00 CEST"
    assert shown(spring + timedelta(seconds=5), BERLIN) == "Sun 2026-03-29 03:00:05 CEST"
    assert iso(spring, BERLIN) == "2026-03-29T03:00:00+02:00"
    assert iso(None, BERLIN) is None
