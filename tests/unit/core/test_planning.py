"""Escalation timing from a policy snapshot, on a virtual clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalatord.config.model import PolicyConfig
from escalatord.core.events import Event
from escalatord.core.lifecycle import IncidentStatus, after, escalates
from escalatord.core.planning import due, plan, snapshot
from escalatord.errors import InvalidTransition

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def policy(levels=((0, "ops"), (10, "manager")), repeat=0, every=None) -> PolicyConfig:
    return PolicyConfig.model_validate(
        {
            "name": "clinical",
            "repeat": repeat,
            "repeat_every": f"{every}m" if every is not None else None,
            "level": [{"after": f"{after}m", "notify": [who]} for after, who in levels],
        }
    )


CLINICAL = snapshot(policy(repeat=2, every=30))


def test_snapshot_is_json_and_carries_the_timing():
    """The snapshot survives a JSON round trip and holds seconds, notifiers and repeat."""
    snap = json.loads(json.dumps(CLINICAL))
    assert snap == {
        "name": "clinical",
        "repeat": 2,
        "repeat_every_s": 1800.0,
        "levels": [
            {"after_s": 0.0, "notify": ["ops"]},
            {"after_s": 600.0, "notify": ["manager"]},
        ],
    }
    assert snapshot(policy())["repeat_every_s"] is None


def test_plan_with_repeat_times_every_step():
    """Levels 0m/10m, repeat 2 every 30m: six steps at 0, 10, 30, 40, 60 and 70 minutes."""
    steps = plan(CLINICAL, T0)
    assert [s.due_at - T0 for s in steps] == [minutes(m) for m in (0, 10, 30, 40, 60, 70)]
    assert [s.index for s in steps] == list(range(6))
    assert [(s.cycle, s.level) for s in steps] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert [s.notify for s in steps] == [("ops",), ("manager",)] * 3


def test_events_per_step():
    """The first page is triggered, later levels escalated, and every repeat a reminder."""
    assert [s.event for s in plan(CLINICAL, T0)] == [
        Event.TRIGGERED,
        Event.ESCALATED,
        Event.REMINDER,
        Event.REMINDER,
        Event.REMINDER,
        Event.REMINDER,
    ]


def test_plan_without_repeat_is_the_ladder_once():
    """A policy without repeat plans each level once."""
    steps = plan(snapshot(policy(levels=((0, "a"), (5, "b"), (15, "c")))), T0)
    assert [(s.due_at - T0, s.notify, s.event) for s in steps] == [
        (minutes(0), ("a",), Event.TRIGGERED),
        (minutes(5), ("b",), Event.ESCALATED),
        (minutes(15), ("c",), Event.ESCALATED),
    ]


def test_due_step_by_step_on_a_virtual_clock():
    """Advancing the clock minute by minute hands out each step once, when its time comes."""
    next_index, seen = 0, []
    for minute in range(0, 80):
        now = T0 + minutes(minute)
        steps, next_index, upcoming = due(CLINICAL, T0, next_index, now)
        seen += [(minute, s.index) for s in steps]
        if upcoming is not None:
            assert upcoming > now
    assert seen == [(0, 0), (10, 1), (30, 2), (40, 3), (60, 4), (70, 5)]
    assert next_index == 6


def test_due_reports_the_next_step_time():
    """due() says when the next step still to come is due, and None once the plan is done."""
    steps, next_index, upcoming = due(CLINICAL, T0, 0, T0 + minutes(5))
    assert [s.index for s in steps] == [0]
    assert (next_index, upcoming) == (1, T0 + minutes(10))
    steps, next_index, upcoming = due(CLINICAL, T0, next_index, T0 + minutes(9))
    assert (steps, next_index, upcoming) == ([], 1, T0 + minutes(10))
    _, next_index, upcoming = due(CLINICAL, T0, 5, T0 + minutes(70))
    assert (next_index, upcoming) == (6, None)


def test_due_before_the_first_step():
    """Before the first step is due nothing is returned and the index stays."""
    snap = snapshot(policy(levels=((2, "ops"),)))
    assert due(snap, T0, 0, T0 + minutes(1)) == ([], 0, T0 + minutes(2))


def test_late_restart_returns_every_missed_step_once():
    """A big clock jump (a late restart) returns all missed steps, in order, and not again."""
    steps, next_index, upcoming = due(CLINICAL, T0, 1, T0 + minutes(45))
    assert [s.index for s in steps] == [1, 2, 3]
    assert (next_index, upcoming) == (4, T0 + minutes(60))
    again, same_index, _ = due(CLINICAL, T0, next_index, T0 + minutes(45))
    assert (again, same_index) == ([], 4)


def test_exhausted_plan_returns_nothing():
    """After the last step, due() returns nothing however late it is called."""
    assert due(CLINICAL, T0, 6, T0 + timedelta(days=30)) == ([], 6, None)


def test_editing_the_policy_does_not_change_a_running_plan():
    """The plan follows the snapshot taken at open time, not a later config."""
    snap = snapshot(policy())
    snapshot(policy(levels=((0, "ops"), (1, "boss"))))  # the "edited" config
    assert [s.due_at - T0 for s in plan(snap, T0)] == [minutes(0), minutes(10)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"levels": []}, "no levels"),
        (
            {"levels": [{"after_s": 60.0, "notify": ["a"]}, {"after_s": 0.0, "notify": ["b"]}]},
            "in order of after_s",
        ),
        ({"repeat": 1, "repeat_every_s": None}, "repeat_every_s is required"),
        ({"repeat": 1, "repeat_every_s": 600.0}, "must exceed"),
    ],
)
def test_bad_snapshots_are_rejected(change, message):
    """A snapshot that could not come from a valid policy is refused with the reason."""
    with pytest.raises(ValueError, match=message):
        plan({**CLINICAL, **change}, T0)


def test_negative_next_index_is_rejected():
    """A negative stored index is a bug and is refused rather than replaying steps."""
    with pytest.raises(ValueError, match="next_index"):
        due(CLINICAL, T0, -1, T0)


@st.composite
def snapshots(draw):
    gaps = draw(st.lists(st.integers(0, 20), min_size=1, max_size=4))
    afters = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    repeat = draw(st.integers(0, 3))
    every = afters[-1] + draw(st.integers(1, 30)) if repeat else None
    return snapshot(
        policy(levels=[(a, f"n{i}") for i, a in enumerate(afters)], repeat=repeat, every=every)
    )


@settings(max_examples=150, deadline=None)
@given(snap=snapshots(), jumps=st.lists(st.integers(0, 50), max_size=30))
def test_due_returns_each_step_exactly_once_in_order(snap, jumps):
    """Called at any increasing times, due() returns every step once, in order, on time."""
    steps = plan(snap, T0)
    returned, next_index, prev = [], 0, None
    now = T0 - minutes(1)
    for jump in [*jumps, 10_000]:  # the last call is past the end of any plan
        now += minutes(jump)
        got, next_index, upcoming = due(snap, T0, next_index, now)
        for s in got:
            assert s.due_at <= now
            # Handed out at the first call after it fell due, not later.
            assert prev is None or s.due_at > prev
        assert upcoming is None or upcoming > now
        returned += got
        prev = now
    assert returned == steps
    assert next_index == len(steps)


@settings(max_examples=150, deadline=None)
@given(
    snap=snapshots(),
    ops=st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from([None, "ack", "resolve", "close"])),
        max_size=25,
    ),
    ack_first=st.booleans(),
)
def test_no_page_after_acknowledgement(snap, ops, ack_first):
    """Driving due() only while escalates(status), no page is returned once the incident is
    acknowledged (or resolved/closed), whichever of ack and tick comes first at an instant."""
    status, next_index, now = IncidentStatus.TRIGGERED, 0, T0
    stopped_at = None  # when the incident stopped escalating
    pages = []

    def act(action):
        nonlocal status, stopped_at
        try:
            status = after(status, action)
        except InvalidTransition:
            return  # e.g. a second ack: a no-op for the caller
        if not escalates(status) and stopped_at is None:
            stopped_at = len(pages)

    def tick():
        nonlocal next_index
        if escalates(status):
            got, next_index, _ = due(snap, T0, next_index, now)
            pages.extend(got)

    for advance, action in ops:
        now += minutes(advance)
        # The race: an ack and the escalation tick at the same instant, in either order.
        if action and ack_first:
            act(action)
        tick()
        if action and not ack_first:
            act(action)
    now += timedelta(days=1)
    tick()
    if stopped_at is not None:
        assert len(pages) == stopped_at
        assert status != IncidentStatus.TRIGGERED
    else:
        assert pages == plan(snap, T0)
    assert all(p.event.is_page for p in pages)
    assert [p.index for p in pages] == list(range(len(pages)))
