"""check-config on [[maintenance]]: each mistake reported at its key with the fix, and a good
window handed to the pure core in its time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from escalatord.config.loader import load_text
from escalatord.errors import ConfigError

CHECK = """
[[check]]
name = "router"
type = "tcp"
host = "127.0.0.1"
port = 1
labels = { site = "boston" }
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_text(CHECK + text, "m.toml")
    return [f"{p.path}: {p.message}" for p in caught.value.problems]


def test_the_design_example_loads_as_a_recurring_window_in_its_zone() -> None:
    """DESIGN's example: Saturdays 22:00 New York time for 4h, children on."""
    config = load_text(
        CHECK
        + """
[[maintenance]]
name = "boston-patch-night"
match = { site = "boston" }
schedule = "0 22 * * sat"
duration = "4h"
timezone = "America/New_York"
children = true
"""
    )
    window = config.maintenance[0].window()
    assert window.children and window.duration == timedelta(hours=4)
    assert window.until(datetime(2026, 12, 6, 3, 30, tzinfo=UTC)) == datetime(
        2026, 12, 6, 7, 0, tzinfo=UTC
    )


def test_a_one_off_window_reads_local_times_in_its_zone() -> None:
    """from/until are local times of `timezone`: 18:00 Paris in winter is 17:00 UTC."""
    config = load_text(
        CHECK
        + """
[[maintenance]]
name = "xmas"
checks = ["router"]
from = "2026-12-24 18:00"
until = "2026-12-25 02:00"
timezone = "Europe/Paris"
"""
    )
    window = config.maintenance[0].window()
    assert window.start == datetime(2026, 12, 24, 17, tzinfo=UTC)
    assert window.end == datetime(2026, 12, 25, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('schedule = "0 22 * * sat"\nduration = "4h"', "say which checks the window covers"),
        ('checks = ["router"]', "say when: a one-off from"),
        ('checks = ["router"]\nschedule = "0 22 * * sat"', "needs both schedule and duration"),
        ('checks = ["router"]\nfrom = "2026-01-01 10:00"', "needs both from and until"),
        (
            'checks = ["router"]\nfrom = "2026-01-01 10:00"\nuntil = "2026-01-01 09:00"',
            "until must be later than from",
        ),
        (
            'checks = ["router"]\nfrom = "2026-01-01 10:00"\nuntil = "2026-01-01 11:00"\n'
            'schedule = "0 1 * * *"\nduration = "1h"',
            "not both",
        ),
        ('checks = ["router"]\nschedule = "61 * * * *"\nduration = "1h"', "invalid cron"),
        ('checks = ["router"]\nschedule = "0 1 * * *"\nduration = "0s"', "longer than 0s"),
        (
            'checks = ["router"]\nschedule = "0 1 * * *"\nduration = "1h"\ntimezone = "Mars/X"',
            "unknown time zone",
        ),
        (
            'checks = ["router"]\nschedule = "0 1 * * *"\nduration = "1h"\nchildren = "yes"',
            "children must be true or false",
        ),
        (
            'match_re = { site = "(" }\nschedule = "0 1 * * *"\nduration = "1h"',
            "invalid regular expression",
        ),
        ('checks = ["nope"]\nschedule = "0 1 * * *"\nduration = "1h"', "unknown check 'nope'"),
    ],
)
def test_each_mistake_is_reported_with_its_fix(body: str, expected: str) -> None:
    """A bad [[maintenance]] is refused at maintenance[w], saying what to write."""
    found = problems(f'[[maintenance]]\nname = "w"\n{body}\n')
    assert any(p.startswith("maintenance[w]") and expected in p for p in found), found


def test_a_name_used_twice_is_refused() -> None:
    """Two windows may not share a name."""
    window = 'checks = ["router"]\nschedule = "0 1 * * *"\nduration = "1h"\n'
    found = problems(f'[[maintenance]]\nname = "w"\n{window}[[maintenance]]\nname = "w"\n{window}')
    assert any("duplicate maintenance name 'w'" in p for p in found), found
