"""core/relay.py: which relayed results are applied, and when a satellite is silent (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from escalatord.core.relay import CLOCK_SKEW, Fate, fate, held_fate, silence, stale_after

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SLACK = timedelta(seconds=10)


def test_a_fresh_result_in_order_is_applied():
    """A result taken a moment ago, newer than the last applied one, is applied."""
    assert fate(NOW - timedelta(seconds=3), NOW, NOW - MINUTE, MINUTE, SLACK) is Fate.APPLIED
    assert fate(NOW, NOW, None, MINUTE, SLACK) is Fate.APPLIED


def test_a_result_older_than_two_intervals_and_the_slack_is_late():
    """The staleness bound is 2 × interval + slack: past it, a result is recorded only."""
    assert stale_after(MINUTE, SLACK) == timedelta(seconds=130)
    edge = NOW - timedelta(seconds=130)
    assert fate(edge, NOW, None, MINUTE, SLACK) is Fate.APPLIED
    assert fate(edge - timedelta(seconds=1), NOW, None, MINUTE, SLACK) is Fate.LATE


def test_a_result_not_newer_than_the_last_applied_one_is_superseded():
    """Results apply in time order: an older or equal one never changes the state."""
    last = NOW - timedelta(seconds=5)
    assert fate(last, NOW, last, MINUTE, SLACK) is Fate.SUPERSEDED
    assert fate(last - timedelta(seconds=1), NOW, last, MINUTE, SLACK) is Fate.SUPERSEDED


def test_a_result_from_beyond_the_clock_skew_is_refused():
    """A satellite clock ahead by more than CLOCK_SKEW: the result is refused, not applied."""
    assert fate(NOW + CLOCK_SKEW, NOW, None, MINUTE, SLACK) is Fate.APPLIED
    assert fate(NOW + CLOCK_SKEW + timedelta(seconds=1), NOW, None, MINUTE, SLACK) is Fate.FUTURE


def test_a_satellite_is_silent_once_silent_after_has_passed():
    """Silent from last_heard + silent_after on, and the deadline says when."""
    heard = NOW - MINUTE
    assert silence(heard, NOW - timedelta(seconds=1), MINUTE).silent is False
    quiet = silence(heard, NOW, MINUTE)
    assert quiet.silent and quiet.deadline == NOW and quiet.last_heard == heard


def test_a_result_held_for_the_owner_applies_in_order_while_fresh():
    """A result another node stored applies at the owner's round when newer than the last
    applied one and stored no longer than two intervals ago."""
    taken, received = NOW - timedelta(seconds=8), NOW - timedelta(seconds=5)
    assert held_fate(taken, received, NOW, NOW - MINUTE, MINUTE) is Fate.APPLIED
    assert held_fate(taken, received, NOW, None, MINUTE) is Fate.APPLIED


def test_a_held_result_not_newer_than_the_last_applied_one_is_superseded():
    """The owner applied a newer result (its own node received it): the held one is recorded."""
    taken = NOW - timedelta(seconds=8)
    assert held_fate(taken, NOW, NOW, taken, MINUTE) is Fate.SUPERSEDED
    assert held_fate(taken, NOW, NOW, NOW - timedelta(seconds=2), MINUTE) is Fate.SUPERSEDED


def test_a_result_held_longer_than_two_intervals_is_late():
    """A result that waited in the store past two intervals (no owner took it) never pages."""
    received = NOW - 2 * MINUTE
    assert held_fate(received, received, NOW, None, MINUTE) is Fate.APPLIED
    late = received - timedelta(seconds=1)
    assert held_fate(late, late, NOW, None, MINUTE) is Fate.LATE
