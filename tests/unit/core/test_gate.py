"""The per-notifier gate on a virtual clock: rate limit, circuit breaker, server back-off."""

from __future__ import annotations

import pytest

from escalatord.core.gate import TRIAL_WAIT, Gate
from escalatord.notify.base import parse_rate


def test_no_limits_always_admits():
    """Without a rate limit and with no failures, every message may go at once."""
    gate = Gate()
    assert all(gate.admit(t) == 0 for t in range(100))


def test_rate_limit_allows_a_burst_then_spaces_messages():
    """ "3/30s" lets three messages through at once, then one every ten seconds."""
    gate = Gate(rate=(3, 30.0))
    assert [gate.admit(0.0) for _ in range(3)] == [0, 0, 0]
    assert gate.admit(0.0) == pytest.approx(10.0)
    assert gate.admit(4.0) == pytest.approx(6.0)
    assert gate.admit(10.0) == 0
    assert gate.admit(10.0) == pytest.approx(10.0)


def test_circuit_opens_after_threshold_failures_and_half_opens_after_cooldown():
    """Three failures in a row hold every message for the cooldown; then one trial goes."""
    gate = Gate(threshold=3, cooldown=60.0)
    assert gate.admit(0) == 0
    assert not gate.failure(1) and not gate.failure(2)
    assert gate.failure(3)  # the third opens it
    assert gate.state == "open"
    assert gate.admit(10) == pytest.approx(53.0)
    assert gate.admit(63) == 0  # the trial
    assert gate.state == "half-open"
    assert gate.admit(63.5) == TRIAL_WAIT  # others wait for the trial's outcome


def test_successful_trial_closes_the_circuit():
    """When the trial message gets through, the circuit closes and traffic flows again."""
    gate = Gate(threshold=1, cooldown=5.0)
    gate.failure(0)
    assert gate.admit(5) == 0
    gate.success(6)
    assert gate.state == "closed"
    assert gate.admit(6) == 0 and gate.admit(6) == 0


def test_failed_trial_opens_the_circuit_again():
    """A trial that fails opens the circuit for another full cooldown."""
    gate = Gate(threshold=1, cooldown=5.0)
    gate.failure(0)
    gate.admit(5)
    gate.failure(6)
    assert gate.state == "open"
    assert gate.admit(7) == pytest.approx(4.0)


def test_retry_after_holds_every_message_of_the_notifier():
    """A 429 with Retry-After: 30 holds the notifier's other messages for 30 s too."""
    gate = Gate(threshold=100)
    gate.failure(0, retry_after=30.0)
    assert gate.admit(10) == pytest.approx(20.0)
    assert gate.admit(30) == 0


@pytest.mark.parametrize(
    ("text", "rate"), [("20/1m", (20, 60.0)), ("1/1h", (1, 3600.0)), (" 5 / 90s ", (5, 90.0))]
)
def test_rate_limit_syntax(text, rate):
    """rate_limit is "messages/period" with a duration for the period."""
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["20", "20/minute", "0/1m", "x/1m", "20/0s"])
def test_bad_rate_limits_name_the_form(text):
    """A rate limit that cannot be read says how to write one."""
    with pytest.raises(ValueError, match=r"rate_limit = \"20/1m\""):
        parse_rate(text)
