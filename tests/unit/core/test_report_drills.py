"""core/report.py: each drill's acknowledgement, and its times per level and per person, on a
fixed, hand-written history (times in seconds after T0, when every drill opens).

- 11: level 0 paged at 0, alice acknowledges at 40: level 0, 40 s, 40 s after the page.
- 12: level 0 at 0, level 1 at 300 (bob and a channel at one instant), bob at 360: level 1.
- 13: level 1 at 300, alice at 320; a page at 600 comes after the ack and does not count.
- 14: level 1 at 300, then a repeat pages level 0 again at 900; carol at 930: level 0, 30 s.
- 15: dave acknowledges at 5, before any page: no level, no time after a page.
- 16: never acknowledged; 17: a real incident acknowledged in 2 s, not a drill.

By level: 0 has 40 and 930 s (p50 40, p90 930) after 40 and 30 s of the page (p50 30, p90
40); 1 has 320 and 360 s (p50 320, p90 360) after 20 and 60 s (p50 20, p90 60).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from escalatord.core.report import AckTimes, DrillAck, IncidentRow, StepRow, report

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def drill(id: int, ack: int | None = None, by: str | None = None) -> IncidentRow:
    acked = T0 + ack * S if ack is not None else None
    return IncidentRow(
        id=id, check=f"check-{id}", opened_at=T0, acknowledged_at=acked, acknowledged_by=by,
        drill=True,
    )  # fmt: skip


INCIDENTS = [
    drill(11, 40, "alice"),
    drill(12, 360, "bob"),
    drill(13, 320, "alice"),
    drill(14, 930, "carol"),
    drill(15, 5, "dave"),
    drill(16),
    IncidentRow(17, "real", T0, T0 + 2 * S, "alice"),
]
STEPS = [
    StepRow(incident, level, T0 + at * S)
    for incident, level, at in [
        (11, 0, 0),
        (12, 0, 0), (12, 1, 300), (12, 1, 300),
        (13, 0, 0), (13, 1, 300), (13, 2, 600),
        (14, 0, 0), (14, 1, 300), (14, 0, 900),
        (16, 0, 0),
        (17, 0, 0), (17, 1, 1),
    ]
]  # fmt: skip


def test_each_acknowledged_drill_names_who_the_level_and_both_times():
    """A drill's level is that of the last page before its ack; unacknowledged drills and
    real incidents are not listed."""
    assert report(INCIDENTS, [], {}, steps=STEPS).drill_acks == [
        DrillAck(11, "check-11", "alice", 0, 40, 40),
        DrillAck(12, "check-12", "bob", 1, 360, 60),
        DrillAck(13, "check-13", "alice", 1, 320, 20),
        DrillAck(14, "check-14", "carol", 0, 930, 30),
        DrillAck(15, "check-15", "dave", None, 5, None),
    ]


def test_times_to_acknowledge_per_level_in_order_with_no_level_last():
    """Per level: how many drills were acknowledged there, nearest-rank p50/p90 of the time
    from opening and from the page; a drill acknowledged before any page has no level."""
    assert report(INCIDENTS, [], {}, steps=STEPS).drill_levels == {
        0: AckTimes(2, 40, 930, 30, 40),
        1: AckTimes(2, 320, 360, 20, 60),
        None: AckTimes(1, 5, 5, None, None),
    }


def test_times_to_acknowledge_per_person():
    """Per acknowledger, by name: alice took two drills (40 and 320 s), the others one."""
    assert report(INCIDENTS, [], {}, steps=STEPS).drill_people == {
        "alice": AckTimes(2, 40, 320, 20, 40),
        "bob": AckTimes(1, 360, 360, 60, 60),
        "carol": AckTimes(1, 930, 930, 30, 30),
        "dave": AckTimes(1, 5, 5, None, None),
    }


def test_drill_acks_stay_out_of_the_real_mtta():
    """The real MTTA is the real incident's 2 s alone; the drills' own figures count six."""
    found = report(INCIDENTS, [], {}, steps=STEPS)
    assert (found.real.incidents, found.real.mtta_p50, found.real.mtta_p90) == (1, 2, 2)
    assert (found.drills.incidents, found.drills.acknowledged) == (6, 5)


def test_without_steps_drills_have_no_level_and_no_drills_no_acks():
    """With no pages read every ack has level None; a history without drills has none."""
    found = report(INCIDENTS, [], {})
    assert {a.level for a in found.drill_acks} == {None}
    assert list(found.drill_levels) == [None]
    empty = report([INCIDENTS[-1]], [], {}, steps=STEPS)
    assert (empty.drill_acks, empty.drill_levels, empty.drill_people) == ([], {}, {})
