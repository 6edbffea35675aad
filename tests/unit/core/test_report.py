"""core/report.py: the figures of `escalatord report` on a fixed, hand-written history.

Five of the six real incidents are acknowledged after 60, 120, 300, 30 and 600 s (sorted
30, 60, 120, 300, 600: nearest-rank p50 is the 3rd = 120 s, p90 the 5th = 600 s); four are
resolved after 600, 1200, 1800 and 900 s (sorted 600, 900, 1200, 1800: p50 the 2nd = 900 s,
p90 the 4th = 1800 s). A drill, acknowledged in 5 s, must change none of that. Europe/Berlin
springs forward on 2026-03-29, so the same UTC time of day is in hours before and not after.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from escalatord.core.report import (
    NONE,
    IncidentRow,
    PageRow,
    PersonPages,
    out_of_hours,
    percentile,
    report,
)

T0 = datetime(2026, 3, 27, 6, 0, tzinfo=UTC)  # a Friday
S = timedelta(seconds=1)
BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
ZONES = {"alice": BERLIN, "bob": NEW_YORK}  # carol has none: UTC


def incident(id: int, check: str, ack: int | None = None, by: str | None = None,
             resolved: int | None = None, **more) -> IncidentRow:  # fmt: skip
    return IncidentRow(
        id=id,
        check=check,
        opened_at=T0,
        acknowledged_at=T0 + ack * S if ack is not None else None,
        acknowledged_by=by,
        resolved_at=T0 + resolved * S if resolved is not None else None,
        **more,
    )


INCIDENTS = [
    incident(1, "db", 60, "alice", 600, site="a", category="patient-care"),
    incident(2, "db", 120, "bob", 1200, site="a", category="patient-care", escalated=True),
    incident(3, "web", 300, "alice", 1800, site="b"),
    incident(4, "web", 30, "dave", 900),
    incident(5, "db", 600, "bob", escalated=True),
    incident(6, "disk"),
    incident(
        7, "db", 5, "alice", 10, site="a", category="patient-care", drill=True, escalated=True
    ),
]
PAGES = [
    PageRow(1, "alice", 0, datetime(2026, 3, 27, 7, 30, tzinfo=UTC)),  # Fri 08:30 CET: in
    PageRow(1, "alice", 0, datetime(2026, 3, 27, 6, 30, tzinfo=UTC)),  # Fri 07:30 CET: out
    PageRow(2, "bob", 1, datetime(2026, 3, 30, 13, 30, tzinfo=UTC)),  # Mon 09:30 EDT: in
    PageRow(2, "alice", 1, datetime(2026, 3, 30, 5, 30, tzinfo=UTC)),  # Mon 07:30 CEST: out
    PageRow(5, "carol", 0, datetime(2026, 3, 28, 12, 0, tzinfo=UTC)),  # Saturday: out
    PageRow(7, "alice", 0, datetime(2026, 3, 30, 6, 30, tzinfo=UTC)),  # a drill's page
]


def test_nearest_rank_percentiles_are_values_of_the_list():
    """p50 and p90 are the ceil(p/100·n)-th smallest values, and None for no values."""
    assert percentile([600, 30, 300, 60, 120], 50) == 120
    assert percentile([600, 30, 300, 60, 120], 90) == 600
    assert percentile([7], 90) == 7
    assert percentile(list(range(1, 11)), 90) == 9
    assert percentile([], 50) is None


def test_the_real_figures_leave_the_drill_out():
    """Count, MTTA/MTTR p50/p90, escalated share and pages are those worked out by hand."""
    real = report(INCIDENTS, PAGES, ZONES).real
    assert (real.incidents, real.acknowledged, real.resolved) == (6, 5, 4)
    assert (real.mtta_p50, real.mtta_p90) == (120, 600)
    assert (real.mttr_p50, real.mttr_p90) == (900, 1800)
    assert (real.escalated, real.escalated_share) == (2, pytest.approx(1 / 3))
    assert (real.pages, real.pages_out_of_hours) == (5, 3)


def test_drills_have_figures_of_their_own():
    """The drill is reported apart: one incident acknowledged in 5 s, one page in hours."""
    drills = report(INCIDENTS, PAGES, ZONES).drills
    assert (drills.incidents, drills.mtta_p50, drills.mttr_p90) == (1, 5, 10)
    assert (drills.escalated, drills.pages, drills.pages_out_of_hours) == (1, 1, 0)


def test_working_hours_are_read_in_the_persons_zone_across_dst():
    """06:30 UTC is out of Berlin's hours before the spring-forward and in them after it;
    hours run from 08:00 up to, not including, 18:00."""
    assert out_of_hours(datetime(2026, 3, 27, 6, 30, tzinfo=UTC), BERLIN)
    assert not out_of_hours(datetime(2026, 3, 30, 6, 30, tzinfo=UTC), BERLIN)
    assert not out_of_hours(datetime(2026, 3, 27, 16, 30, tzinfo=UTC), BERLIN)  # 17:30 CET
    assert out_of_hours(datetime(2026, 3, 30, 16, 30, tzinfo=UTC), BERLIN)  # 18:30 CEST
    assert not out_of_hours(datetime(2026, 3, 30, 8, 0, tzinfo=UTC), UTC)  # 08:00 is in
    assert out_of_hours(datetime(2026, 3, 30, 18, 0, tzinfo=UTC), UTC)  # 18:00 is out


def test_pages_per_person_count_out_of_hours_ones_and_skip_drills():
    """alice's drill page is left out; carol, with no zone, is paged on a Saturday (UTC)."""
    assert report(INCIDENTS, PAGES, ZONES).people == [
        PersonPages("alice", 3, 2),
        PersonPages("bob", 1, 0),
        PersonPages("carol", 1, 1),
    ]


def test_noisiest_checks_count_real_incidents():
    """db has three real incidents (its drill does not count), web two, disk one."""
    assert report(INCIDENTS, PAGES, ZONES).noisiest == [("db", 3), ("web", 2), ("disk", 1)]


def test_grouping_by_category_and_site_puts_none_last():
    """A NULL category or site is "(none)", listed after the named groups."""
    by_category = report(INCIDENTS, PAGES, ZONES, by="category").groups
    assert list(by_category) == ["patient-care", NONE]
    assert (by_category["patient-care"].incidents, by_category["patient-care"].pages) == (2, 4)
    assert by_category[NONE].incidents == 4
    by_site = report(INCIDENTS, PAGES, ZONES, by="site").groups
    assert {name: f.incidents for name, f in by_site.items()} == {"a": 2, "b": 1, NONE: 3}


def test_grouping_by_person_joins_acknowledgers_and_those_paged():
    """A person's group holds what they acknowledged or were paged for, with their own pages."""
    groups = report(INCIDENTS, PAGES, ZONES, by="person").groups
    assert list(groups) == ["alice", "bob", "carol", "dave", NONE]
    alice = groups["alice"]
    assert (alice.incidents, alice.mtta_p50, alice.mtta_p90) == (3, 120, 300)
    assert (alice.pages, alice.pages_out_of_hours) == (3, 2)
    assert (groups["carol"].incidents, groups["carol"].pages) == (1, 1)
    assert groups[NONE].incidents == 1  # disk: nobody acknowledged it or was paged


def test_grouping_by_check_and_an_unknown_grouping():
    """By check each check is a group; a grouping not in GROUPINGS is a ValueError."""
    assert list(report(INCIDENTS, PAGES, ZONES, by="check").groups) == ["db", "disk", "web"]
    with pytest.raises(ValueError, match="unknown grouping"):
        report(INCIDENTS, PAGES, ZONES, by="owner")


def test_an_empty_history_has_no_times():
    """No incidents: zero counts, and None for every time and the share."""
    empty = report([], [], {}).real
    assert (empty.incidents, empty.mtta_p50, empty.mttr_p90, empty.escalated_share) == (
        0, None, None, None,
    )  # fmt: skip
