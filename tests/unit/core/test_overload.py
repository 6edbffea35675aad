"""When a failed probe is the daemon's overload, how the run cap moves, and the words for it."""

from __future__ import annotations

from escalatord.core.overload import (
    LAG_TARGET,
    MIN_RUNNING,
    Pressure,
    next_limit,
    problem,
    saturated,
)


def test_a_timeout_while_the_daemon_lost_a_quarter_of_it_is_the_daemons():
    """A failure that used its timeout while the daemon lost a quarter of it is blamed on it."""
    assert saturated(True, duration=10.0, timeout=10.0, lost=2.5)


def test_a_slow_target_on_a_daemon_that_keeps_up_still_fails():
    """A timeout with (almost) no time lost by the daemon is the target's failure."""
    assert not saturated(True, duration=10.0, timeout=10.0, lost=0.1)


def test_a_quick_failure_counts_however_busy_the_daemon_is():
    """A refused connection (a failure well within the timeout) is never blamed on the daemon."""
    assert not saturated(True, duration=0.5, timeout=10.0, lost=5.0)


def test_an_ok_result_is_never_blamed():
    """An OK result is fed as it is, whatever the daemon lost meanwhile."""
    assert not saturated(False, duration=10.0, timeout=10.0, lost=10.0)


def test_the_cap_falls_while_the_loop_is_late_and_never_below_its_floor():
    """A late loop cuts the cap by a quarter each look, down to MIN_RUNNING at most."""
    assert next_limit(2000, 2000, lag=LAG_TARGET * 2, full=True) == 1500
    assert next_limit(MIN_RUNNING, 2000, lag=5.0, full=True) == MIN_RUNNING


def test_the_cap_rises_back_only_while_runs_wait_and_the_loop_keeps_up():
    """An on-time loop with runs waiting raises the cap, up to its most; idle, it stays."""
    assert next_limit(1000, 2000, lag=0.0, full=True) == 1100
    assert next_limit(1990, 2000, lag=0.0, full=True) == 2000
    assert next_limit(1000, 2000, lag=0.0, full=False) == 1000


def test_the_overload_in_words_names_how_far_behind():
    """The problem says how many seconds behind and the loop's lateness; None when fine."""
    p = Pressure(behind=12.34, loop_lag=0.8, running=500, limit=500, blamed=3)
    words = problem(p)
    assert words is not None
    assert "12.3 s behind schedule" in words and "keeps running 0.80 s late" in words
    assert words.endswith("not counted against checks: 3")
    assert problem(Pressure(behind=0.1, loop_lag=0.01, running=5, limit=2000, blamed=0)) is None
