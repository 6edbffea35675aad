"""Held-back failures (monitor/dependencies.py): how long a hold lasts and what is probed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from escalatord.checks.base import CheckConfig
from escalatord.core.state import CheckState, Transition
from escalatord.core.status import Status
from escalatord.core.topology import Reach, Verdict
from escalatord.monitor.dependencies import Dependencies

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def cfg(name: str, **keys) -> CheckConfig:
    return CheckConfig.model_validate(
        {"name": name, "type": "ping", "interval": "60s", "retry_interval": "10s",
         "timeout": "5s", "retries": 3, **keys}
    )  # fmt: skip


DEPS = Dependencies([cfg("router"), cfg("host", depends_on=["router"])])
WAITING = Verdict(Reach.UNDECIDED, waiting_on=("router",))
FAILED = Transition("host", Status.OK, Status.CRITICAL, T0, "no reply")


def test_a_hold_lasts_as_long_as_the_parent_needs_to_confirm_then_lets_the_failure_through():
    """Held while the router could still confirm (max(interval, retries x retry_interval) +
    timeout, plus the host's retry_interval = 75 s); after that the failure is the host's."""
    deps = Dependencies([cfg("router"), cfg("host", depends_on=["router"])])
    assert deps.should_hold("host", FAILED, WAITING, T0)
    assert deps.should_hold("host", FAILED, WAITING, T0 + timedelta(seconds=75))
    assert not deps.should_hold("host", FAILED, WAITING, T0 + timedelta(seconds=76))
    assert "host" not in deps.held


def test_only_new_failures_of_a_reachable_check_are_held():
    """A decided verdict, or a change between problem statuses, is never held."""
    assert not DEPS.should_hold("host", FAILED, Verdict(Reach.REACHABLE), T0)
    worse = Transition("host", Status.WARNING, Status.CRITICAL, T0, "no reply")
    assert not DEPS.should_hold("host", worse, WAITING, T0)


def test_a_failing_parent_is_not_probed_again_a_stale_one_is():
    """A parent already failing is on its retry schedule (more probes would confirm it faster
    than its retries allow); one with an old result is probed at once."""
    failing = CheckState(hard=False, attempts=1, pending=Status.CRITICAL, last_check_at=T0)
    stale = CheckState(last_status=Status.OK, last_check_at=T0 - timedelta(hours=1))
    assert DEPS.to_probe(WAITING, {"router": failing}, T0) == []
    assert DEPS.to_probe(WAITING, {"router": stale}, T0) == ["router"]


def test_parent_recovery_reruns_its_unreachable_dependants():
    """When the router recovers, its unreachable hosts are run at once."""
    states = {
        "router": CheckState(status=Status.OK, last_check_at=T0),
        "host": CheckState(status=Status.UNREACHABLE, last_check_at=T0),
    }
    back = Transition("router", Status.CRITICAL, Status.OK, T0, "ok")
    assert DEPS.to_rerun("router", back, states) == ["host"]
    assert DEPS.to_rerun("router", None, states) == []


def test_a_parent_no_longer_down_reruns_its_unreachable_dependants():
    """A router that goes from critical to warning (or unknown) no longer cuts the path: its
    unreachable hosts are run at once, not left unreachable until their next interval."""
    states = {
        "router": CheckState(status=Status.WARNING, last_check_at=T0),
        "host": CheckState(status=Status.UNREACHABLE, last_check_at=T0),
    }
    for now_status in (Status.WARNING, Status.UNKNOWN):
        better = Transition("router", Status.CRITICAL, now_status, T0, "slow")
        assert DEPS.to_rerun("router", better, states) == ["host"]
    worse = Transition("router", Status.CRITICAL, Status.UNREACHABLE, T0, "core down")
    assert DEPS.to_rerun("router", worse, states) == []
