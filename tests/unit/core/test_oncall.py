"""On-call resolution on a virtual clock: layers, restrict windows, overrides, handoffs, DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalatord.core.oncall import (
    Decision,
    Layer,
    Override,
    Schedule,
    decide,
    handoff,
    layer_on_call,
    next_change,
    on_call,
    rota,
)
from escalatord.core.timewindows import local_instant, parse_local_time, parse_window

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TICK = timedelta(microseconds=1)
WEEK = timedelta(weeks=1)
DAY = timedelta(days=1)


def at(zone: ZoneInfo, *parts: int) -> datetime:
    """A local wall time in `zone` as an aware instant."""
    return local_instant(datetime(*parts), zone)


def layer(members: str, start: str, rotation: timedelta, *restrict: str) -> Layer:
    windows = tuple(parse_window(text) for text in restrict)
    return Layer(tuple(members.split()), parse_local_time(start), rotation, windows)


def schedule(zone: ZoneInfo, *layers: Layer, overrides: tuple[Override, ...] = ()) -> Schedule:
    return Schedule("s", zone, layers, overrides)


WEEKLY = layer("alice bob carol", "2026-01-05 09:00", WEEK)  # Monday 09:00 handoffs
DESK = layer("dave", "2026-01-05 08:00", WEEK, "mon-fri 08:00-18:00")


# ---- layers and handoffs --------------------------------------------------------------------


def test_members_take_turns_from_the_start_handoff():
    """A weekly layer hands over every Monday 09:00 in member order, round and round."""
    rota_ = schedule(BERLIN, WEEKLY)
    assert on_call(rota_, at(BERLIN, 2026, 1, 5, 9)) == ("alice",)
    assert on_call(rota_, at(BERLIN, 2026, 1, 12, 8, 59)) == ("alice",)
    assert on_call(rota_, at(BERLIN, 2026, 1, 12, 9)) == ("bob",)
    assert on_call(rota_, at(BERLIN, 2026, 1, 19, 9)) == ("carol",)
    assert on_call(rota_, at(BERLIN, 2026, 1, 26, 9)) == ("alice",)


def test_nobody_before_the_layer_starts():
    """Before its first handoff a layer has nobody on call."""
    rota_ = schedule(BERLIN, WEEKLY)
    assert on_call(rota_, at(BERLIN, 2026, 1, 5, 8, 59)) == ()
    assert decide(rota_, at(BERLIN, 2026, 1, 5, 8, 59)).layer is None


def test_a_later_layer_wins_where_it_has_someone():
    """The business-hours layer decides inside its window; the weekly rota outside it."""
    rota_ = schedule(BERLIN, WEEKLY, DESK)
    tuesday_noon = at(BERLIN, 2026, 1, 6, 12)
    assert decide(rota_, tuesday_noon).persons == ("dave",)
    assert decide(rota_, tuesday_noon).layer == 1
    assert decide(rota_, at(BERLIN, 2026, 1, 6, 18)).persons == ("alice",)
    assert decide(rota_, at(BERLIN, 2026, 1, 6, 18)).layer == 0
    assert on_call(rota_, at(BERLIN, 2026, 1, 10, 12)) == ("alice",)  # Saturday


def test_a_restricted_layer_alone_leaves_gaps():
    """Outside its restrict windows a lone layer has nobody; inside, its current member."""
    rota_ = schedule(BERLIN, DESK)
    assert on_call(rota_, at(BERLIN, 2026, 1, 9, 17, 59)) == ("dave",)
    assert on_call(rota_, at(BERLIN, 2026, 1, 9, 18)) == ()
    assert on_call(rota_, at(BERLIN, 2026, 1, 10, 12)) == ()


def test_an_overnight_window_closes_the_next_morning():
    """ "mon 22:00-06:00" opens Monday 22:00 and closes Tuesday 06:00, and only from Monday."""
    nights = layer("nina", "2026-01-01 00:00", WEEK, "mon 22:00-06:00")
    rota_ = schedule(NEW_YORK, nights)
    assert on_call(rota_, at(NEW_YORK, 2026, 1, 5, 21, 59)) == ()
    assert on_call(rota_, at(NEW_YORK, 2026, 1, 5, 22)) == ("nina",)
    assert on_call(rota_, at(NEW_YORK, 2026, 1, 6, 5, 59)) == ("nina",)
    assert on_call(rota_, at(NEW_YORK, 2026, 1, 6, 6)) == ()
    assert on_call(rota_, at(NEW_YORK, 2026, 1, 6, 23)) == ()  # Tuesday night: not listed


def test_a_whole_day_window_and_the_rotation_carrying_on_unseen():
    """ "sat 00:00-24:00" covers all of Saturday; turns keep counting while restricted out."""
    weekend = layer("ann ben", "2026-01-05 00:00", DAY, "sat 00:00-24:00")
    rota_ = schedule(BERLIN, weekend)
    assert on_call(rota_, at(BERLIN, 2026, 1, 10, 0)) == ("ben",)  # turn 5
    assert on_call(rota_, at(BERLIN, 2026, 1, 10, 23, 59)) == ("ben",)
    assert on_call(rota_, at(BERLIN, 2026, 1, 11, 0)) == ()
    assert on_call(rota_, at(BERLIN, 2026, 1, 17, 12)) == ("ann",)  # turn 12


# ---- overrides ------------------------------------------------------------------------------


def test_an_override_wins_inside_its_window_only():
    """An override puts its person on call from its start, above every layer, until its end."""
    holiday = Override("erin", at(BERLIN, 2026, 1, 6, 10), at(BERLIN, 2026, 1, 7, 9))
    rota_ = schedule(BERLIN, WEEKLY, DESK, overrides=(holiday,))
    assert on_call(rota_, at(BERLIN, 2026, 1, 6, 9, 59)) == ("dave",)
    assert decide(rota_, at(BERLIN, 2026, 1, 6, 10)).override == holiday
    assert on_call(rota_, at(BERLIN, 2026, 1, 6, 12)) == ("erin",)
    assert on_call(rota_, at(BERLIN, 2026, 1, 7, 9)) == ("dave",)


def test_the_last_overlapping_override_wins_and_run_time_ones_come_last():
    """Of overlapping overrides the last given wins; run-time overrides follow the config's."""
    first = Override("erin", at(BERLIN, 2026, 1, 6, 0), at(BERLIN, 2026, 1, 8, 0))
    second = Override("frank", at(BERLIN, 2026, 1, 7, 0), at(BERLIN, 2026, 1, 9, 0))
    rota_ = schedule(BERLIN, WEEKLY, overrides=(first,))
    noon = at(BERLIN, 2026, 1, 7, 12)
    assert on_call(rota_, noon) == ("erin",)
    assert on_call(rota_, noon, [second]) == ("frank",)
    assert on_call(rota_, at(BERLIN, 2026, 1, 6, 12), [second]) == ("erin",)


# ---- until when and the rota ----------------------------------------------------------------


def test_until_is_the_next_handoff_or_window_edge():
    """ "Until when" is the next instant the person changes: a window edge or a handoff."""
    rota_ = schedule(BERLIN, WEEKLY, DESK)
    assert next_change(rota_, at(BERLIN, 2026, 1, 6, 12)) == at(BERLIN, 2026, 1, 6, 18)
    assert next_change(rota_, at(BERLIN, 2026, 1, 10, 12)) == at(BERLIN, 2026, 1, 12, 8)
    alone = schedule(BERLIN, layer("solo", "2026-01-01 00:00", DAY))
    assert next_change(alone, at(BERLIN, 2026, 2, 1, 0)) is None


def test_a_handoff_to_the_same_person_is_no_change():
    """Where a higher layer hides the lower one's handoff, "until" skips it."""
    top = layer("dave", "2026-01-01 00:00", WEEK, "mon 00:00-12:00")
    rota_ = schedule(BERLIN, WEEKLY, top)
    # Monday 09:00 is alice -> bob below, hidden by dave until 12:00.
    assert next_change(rota_, at(BERLIN, 2026, 1, 12, 1)) == at(BERLIN, 2026, 1, 12, 12)
    assert on_call(rota_, at(BERLIN, 2026, 1, 12, 12)) == ("bob",)


def test_the_rota_lists_who_is_on_call_segment_by_segment():
    """The rota over two days is contiguous segments with the persons on call, gaps as ()."""
    rota_ = schedule(BERLIN, DESK, layer("nina", "2026-01-01 00:00", WEEK, "mon 22:00-06:00"))
    segments = rota(rota_, at(BERLIN, 2026, 1, 5, 0), at(BERLIN, 2026, 1, 7, 0))
    local = [(s.start.astimezone(BERLIN).strftime("%a %H:%M"), s.persons) for s in segments]
    assert local == [
        ("Mon 00:00", ()),
        ("Mon 08:00", ("dave",)),
        ("Mon 18:00", ()),
        ("Mon 22:00", ("nina",)),
        ("Tue 06:00", ()),
        ("Tue 08:00", ("dave",)),
        ("Tue 18:00", ()),
    ]
    assert segments[-1].end == at(BERLIN, 2026, 1, 7, 0)


# ---- DST ------------------------------------------------------------------------------------

DAILY_BERLIN = layer("ann ben", "2026-03-20 09:00", DAY)
DAILY_NEW_YORK = layer("ann ben", "2026-03-01 09:00", DAY)


@pytest.mark.parametrize(
    ("zone", "daily", "night", "hours"),
    [
        (BERLIN, DAILY_BERLIN, (2026, 3, 28), 23),  # spring forward, 29 March 02:00 -> 03:00
        (BERLIN, DAILY_BERLIN, (2026, 10, 24), 25),  # fall back, 25 October 03:00 -> 02:00
        (NEW_YORK, DAILY_NEW_YORK, (2026, 3, 7), 23),  # spring forward, 8 March
        (NEW_YORK, DAILY_NEW_YORK, (2026, 10, 31), 25),  # fall back, 1 November
    ],
)
def test_a_daily_turn_over_a_dst_night_keeps_its_local_handoff(zone, daily, night, hours):
    """A 1-day turn across a DST night lasts 23 h (spring) or 25 h (autumn): 09:00 stays 09:00."""
    before = at(zone, *night, 9)
    after = next_change(schedule(zone, daily), before)
    assert after is not None
    assert after - before == timedelta(hours=hours)
    assert after.astimezone(zone).hour == 9
    segments = rota(schedule(zone, daily), before, before + 3 * DAY)
    assert {s.start.astimezone(zone).strftime("%H:%M") for s in segments[1:]} == {"09:00"}


def test_a_weekly_turn_over_the_spring_night_is_167_hours():
    """A weekly handoff stays Monday 09:00 local; the week holding the DST night is 167 h."""
    weekly = layer("ann ben", "2026-03-02 09:00", WEEK)
    start = handoff(weekly, NEW_YORK, 0)
    assert handoff(weekly, NEW_YORK, 1) - start == timedelta(hours=167)
    assert handoff(weekly, NEW_YORK, 1) == at(NEW_YORK, 2026, 3, 9, 9)


def test_an_hours_rotation_counts_elapsed_time_across_dst():
    """A "12h" rotation counts real hours: 08:00/20:00 handoffs become 09:00/21:00 in summer."""
    shifts = layer("day night", "2026-03-27 08:00", timedelta(hours=12))
    assert handoff(shifts, BERLIN, 4) - handoff(shifts, BERLIN, 3) == timedelta(hours=12)
    assert handoff(shifts, BERLIN, 4).astimezone(BERLIN).hour == 9  # 29 March, after the jump
    assert on_call(schedule(BERLIN, shifts), at(BERLIN, 2026, 3, 29, 8, 30)) == ("night",)


def test_business_hours_stay_on_the_local_clock_across_dst():
    """ "mon-fri 08:00-18:00" opens at 08:00 local before and after the change."""
    rota_ = schedule(NEW_YORK, DESK)
    assert next_change(rota_, at(NEW_YORK, 2026, 3, 6, 20)) == at(NEW_YORK, 2026, 3, 9, 8)
    assert at(NEW_YORK, 2026, 3, 9, 8).hour == 12  # 08:00 EDT is 12:00 UTC (EST: 13:00)


def test_wall_times_skipped_or_repeated_by_dst():
    """A skipped wall time lands past the jump (02:30 -> 03:30); a repeated one is the first."""
    assert at(BERLIN, 2026, 3, 29, 2, 30) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert at(BERLIN, 2026, 10, 25, 2, 30) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    window = layer("owl", "2026-01-01 00:00", WEEK, "sun 02:30-04:00")
    rota_ = schedule(BERLIN, window)
    assert on_call(rota_, datetime(2026, 3, 29, 1, 29, tzinfo=UTC)) == ()
    assert on_call(rota_, datetime(2026, 3, 29, 1, 30, tzinfo=UTC)) == ("owl",)


def test_naive_instants_are_refused():
    """An instant without a zone is ambiguous and raises rather than guessing."""
    with pytest.raises(ValueError, match="timezone-aware"):
        on_call(schedule(BERLIN, WEEKLY), datetime(2026, 1, 6, 12))


# ---- window and local time syntax -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days", "start", "end"),
    [
        ("mon-fri 08:00-18:00", {0, 1, 2, 3, 4}, 480, 1080),
        ("sat 00:00-24:00", {5}, 0, 1440),
        ("mon 22:00-06:00", {0}, 1320, 360),
        ("fri-mon 09:00-10:00", {4, 5, 6, 0}, 540, 600),
        ("Mon,wed,fri-sun 7:30-8:00", {0, 2, 4, 5, 6}, 450, 480),
        ("12:00-13:00", set(range(7)), 720, 780),
    ],
)
def test_windows_parse(text, days, start, end):
    """Days, ranges (wrapping too), comma lists, no days (every day), 24:00 and overnight."""
    window = parse_window(text)
    assert (set(window.days), window.start, window.end) == (days, start, end)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mnd 08:00-18:00", "unknown weekday 'mnd'"),
        ("mon-fri 8-18", "is not valid: write e.g."),
        ("mon 25:00-26:00", "'25:00' is not a time of day"),
        ("mon 24:00-06:00", "'24:00' is not a time of day (00:00 to 23:59"),
        ("mon 08:00-08:00", 'for a whole day write "00:00-24:00"'),
        ("mon--fri 08:00-18:00", "is not a day or a range of days"),
    ],
)
def test_bad_windows_say_what_to_write(text, message):
    """Each window mistake raises ValueError quoting the text and the fix."""
    with pytest.raises(ValueError, match="restrict window") as caught:
        parse_window(text)
    assert message in str(caught.value)


def test_local_times_need_a_time_of_day_and_no_offset():
    """ "YYYY-MM-DD HH:MM" parses; a bare date or an offset is refused with an example."""
    assert parse_local_time("2026-01-05 09:00") == datetime(2026, 1, 5, 9)
    with pytest.raises(ValueError, match="needs a time of day"):
        parse_local_time("2026-01-05")
    with pytest.raises(ValueError, match="without an offset"):
        parse_local_time(datetime(2026, 1, 5, 9, tzinfo=UTC))
    with pytest.raises(ValueError, match="YYYY-MM-DD HH:MM"):
        parse_local_time("next monday")


# ---- properties -----------------------------------------------------------------------------

ZONES = [BERLIN, NEW_YORK, ZoneInfo("UTC"), ZoneInfo("Australia/Lord_Howe")]  # 30-min DST
WINDOWS = [
    "mon-fri 08:00-18:00",
    "sat 00:00-24:00",
    "mon 22:00-06:00",
    "02:30-03:30",
    "sun-tue 20:00-08:00",
]
ROTATIONS = [timedelta(hours=h) for h in (1, 8, 12, 24, 36, 48, 168)]
SPAN_START = datetime(2026, 1, 1, tzinfo=UTC)


def inside(start: datetime, end: datetime, share: float) -> datetime:
    """An instant `share` of the way from `start` to `end`, never `end` itself (rounding)."""
    return min(start + (end - start) * share, end - TICK)


layers_st = st.builds(
    Layer,
    members=st.lists(st.sampled_from(["ann", "ben", "cat"]), min_size=1, max_size=3).map(tuple),
    start=st.datetimes(datetime(2025, 1, 1), datetime(2025, 12, 31)).map(
        lambda d: d.replace(second=0, microsecond=0)
    ),
    rotation=st.sampled_from(ROTATIONS),
    restrict=st.lists(st.sampled_from(WINDOWS), max_size=2).map(
        lambda texts: tuple(parse_window(t) for t in texts)
    ),
)
instants = st.integers(0, 365 * 24 * 60).map(lambda m: SPAN_START + timedelta(minutes=m))
overrides_st = st.builds(
    lambda person, start, minutes: Override(person, start, start + timedelta(minutes=minutes)),
    st.sampled_from(["erin", "finn"]),
    instants,
    st.integers(1, 5 * 24 * 60),
)
schedules = st.builds(
    lambda zone, layers, overrides: Schedule("p", zone, tuple(layers), tuple(overrides)),
    st.sampled_from(ZONES),
    st.lists(layers_st, min_size=1, max_size=3),
    st.lists(overrides_st, max_size=2),
)


@settings(deadline=None)
@given(schedules, instants)
def test_exactly_one_layer_or_override_decides(rota_, instant):
    """The decision is the last active override, else the highest layer with someone, else ()."""
    decision = decide(rota_, instant)
    active = [o for o in rota_.overrides if o.start <= instant < o.end]
    people = [layer_on_call(lay, rota_.zone, instant) for lay in rota_.layers]
    if active:
        assert decision.persons == (active[-1].person,) and decision.layer is None
    elif any(people):
        top = max(i for i, p in enumerate(people) if p)
        assert (decision.layer, decision.persons) == (top, (people[top],))
    else:
        assert decision == Decision(())  # nobody, decided by nothing


@settings(deadline=None)
@given(schedules, overrides_st, st.floats(0, 1, exclude_max=True))
def test_an_override_always_wins_inside_its_window(rota_, override, share):
    """A run-time override puts its person on call everywhere inside its window."""
    instant = inside(override.start, override.end, share)
    assert on_call(rota_, instant, [override]) == (override.person,)


@settings(deadline=None)
@given(schedules, instants)
def test_a_rota_with_members_never_returns_nobody_unless_restricted(rota_, instant):
    """Nobody is on call only where every started layer is restricted out."""
    if on_call(rota_, instant) == ():
        for lay in rota_.layers:
            started = handoff(lay, rota_.zone, 0) <= instant
            assert not started or lay.restrict


@settings(deadline=None, max_examples=60)
@given(schedules, instants, st.lists(st.floats(0, 1, exclude_max=True), max_size=5))
def test_until_is_exactly_the_next_change(rota_, instant, shares):
    """Nothing changes before "until" (to the microsecond) and something changes at it."""
    horizon = timedelta(days=30)
    until = next_change(rota_, instant, horizon=horizon)
    current = on_call(rota_, instant)
    end = until or instant + horizon
    for share in shares:
        assert on_call(rota_, inside(instant, end, share)) == current
    if until is not None:
        assert on_call(rota_, until - TICK) == current
        assert on_call(rota_, until) != current
        assert rota(rota_, instant, until + TICK)[0].end == until


@settings(deadline=None, max_examples=60)
@given(schedules, instants)
def test_rota_segments_are_contiguous_and_agree_with_on_call(rota_, instant):
    """Each rota segment starts where the last ended and holds who is on call through it."""
    segments = rota(rota_, instant, instant + timedelta(days=10))
    assert segments[0].start == instant and segments[-1].end == instant + timedelta(days=10)
    for before, after in pairwise(segments):
        assert before.end == after.start and before.persons != after.persons
    for segment in segments:
        assert on_call(rota_, segment.start) == segment.persons
        assert on_call(rota_, segment.end - TICK) == segment.persons
