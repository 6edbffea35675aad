"""A node's lease and fence (core/lease.py): timings derived from failover, a node fenced
before its lease can lapse, and where a check taken over resumes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from escalatord.core.lease import LeaseTiming, fence_at, fenced, lapsed, resume_delay

T0 = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


def test_timings_derived_from_failover_leave_room_for_detection():
    """30 s failover: a 15 s lease renewed every 3 s, fencing 3 s before it could lapse."""
    timing = LeaseTiming.from_failover(30.0)
    assert (timing.lease, timing.renew_every, timing.margin) == (15.0, 3.0, 3.0)
    assert timing.fence_after == 12.0
    assert timing.lease + timing.renew_every < timing.failover
    assert timing.problems() == []


def test_unsafe_timings_are_named():
    """A lease renewed too rarely, or longer than failover allows, is reported in words."""
    rare = LeaseTiming.from_failover(30.0, lease=10.0, renew_every=8.0)
    assert any("at most half of lease" in p for p in rare.problems())
    long = LeaseTiming.from_failover(30.0, lease=29.0)
    assert any("shorter than failover" in p for p in long.problems())


def test_a_node_fences_before_its_lease_can_lapse():
    """Fenced at lease - margin after its last good renewal started; never before."""
    timing = LeaseTiming.from_failover(6.0)  # lease 3 s, renewals every 0.6 s
    assert not fenced(100.0, 100.0 + timing.fence_after - 0.01, timing)
    assert fenced(100.0, 100.0 + timing.fence_after, timing)
    assert fence_at(100.0, timing) < 100.0 + timing.lease  # the lease was written after 100.0


def test_a_node_that_never_renewed_is_fenced():
    """Without a single successful renewal a node holds nothing, so it runs nothing."""
    assert fenced(None, 0.0, LeaseTiming.from_failover(30.0))


def test_a_lease_lapses_at_its_expiry_and_a_row_without_one_has_lapsed():
    """A lease holds strictly before lease_until; NULL (a single node, a clean stop) is lapsed."""
    assert not lapsed(T0 + timedelta(seconds=1), T0)
    assert lapsed(T0, T0)
    assert lapsed(None, T0)


def test_a_check_taken_over_resumes_where_its_previous_owner_left_it():
    """Not yet due: at its due time; overdue (its owner died): within the spread; never stored:
    within the spread; never later than one interval."""
    assert resume_delay(T0 - timedelta(seconds=20), 60.0, T0, 0.5) == 40.0
    assert resume_delay(T0 - timedelta(seconds=90), 60.0, T0, 0.5) == 0.5
    assert resume_delay(None, 60.0, T0, 0.5) == 0.5
    assert resume_delay(T0 + timedelta(seconds=30), 60.0, T0, 0.5) == 60.0


def test_overdue_checks_start_within_what_is_left_of_the_failover():
    """With failover 30 s (lease 15 s, renewed every 3 s) a dead node's checks are seen 18 s
    after its last renewal at worst, leaving 12 s to start them; never less than a second."""
    assert LeaseTiming.from_failover(30.0).overdue_within == 12.0
    assert LeaseTiming.from_failover(30.0, lease=28.0, renew_every=2.0).overdue_within == 1.0
