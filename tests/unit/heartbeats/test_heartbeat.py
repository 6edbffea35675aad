"""The heartbeat check's pure core: config rules, `evaluate(signals, config, now)` and
`wake_at` (when the verdict next changes by time alone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from escalatord.checks.base import CheckContext
from escalatord.core.status import Status
from escalatord.heartbeats.check import (
    Cause,
    HeartbeatCheck,
    HeartbeatConfig,
    Signal,
    Signals,
    evaluate,
    wake_at,
)

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
TOKEN = "0123456789abcdef0123"


def config(**keys: Any) -> HeartbeatConfig:
    keys.setdefault("grace", "10m")
    if "schedule" not in keys:
        keys.setdefault("every", "5m")
    return HeartbeatConfig(name="hb", type="heartbeat", token=TOKEN, **keys)


def errors(**keys: Any) -> str:
    keys.setdefault("token", TOKEN)
    with pytest.raises(ValidationError) as caught:
        HeartbeatConfig.model_validate({"name": "hb", "type": "heartbeat", **keys})
    found = caught.value.errors(include_input=False)
    return "\n".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in found)


def m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


def test_every_or_schedule_exactly_one():
    """A heartbeat needs exactly one rhythm: `every` or `schedule`."""
    assert "exactly one of every" in errors(grace="1m")
    assert "exactly one of every" in errors(grace="1m", every="5m", schedule="0 2 * * *")


def test_bad_schedule_timezone_and_short_token_are_explained():
    """A bad cron line, an unknown time zone and a short token each get a message with the fix."""
    assert "five fields" in errors(grace="1m", schedule="0 25 * * *")
    assert "IANA name" in errors(grace="1m", schedule="0 2 * * *", timezone="Mars/Olympus")
    short = errors(grace="1m", every="5m", token="s3cret")
    assert "at least 16 characters" in short and "s3cret" not in short
    assert "timezone only applies" in errors(grace="1m", every="5m", timezone="UTC")


def test_grace_and_token_are_required():
    """`grace` and `token` must be given: a heartbeat without them would be a guess."""
    text = errors(every="5m")
    assert "grace" in text
    with pytest.raises(ValidationError, match="token"):
        HeartbeatConfig.model_validate({"name": "hb", "type": "heartbeat", "every": "5m",
                                        "grace": "1m"})  # fmt: skip


def test_token_is_not_in_repr():
    """The token never shows in a repr (logs, tracebacks)."""
    assert TOKEN not in repr(config())


def test_on_time_ping_is_ok_and_says_when_next_is_due():
    """A ping within `every` + `grace` is ok; the summary says when the next one is due."""
    signals = Signals(first_seen_at=T0, last_ping_at=T0, last_body="120 messages")
    verdict = evaluate(signals, config(), T0 + m(14))
    assert verdict.status is Status.OK and verdict.cause is Cause.OK
    assert "last ping 14m ago" in verdict.summary and "120 messages" in verdict.summary
    assert verdict.deadline == T0 + m(15)


def test_late_after_every_plus_grace():
    """No ping for longer than `every` + `grace` is critical, saying how long it has been."""
    signals = Signals(first_seen_at=T0, last_ping_at=T0)
    verdict = evaluate(signals, config(), T0 + m(15) + timedelta(seconds=1))
    assert verdict.status is Status.CRITICAL and verdict.cause is Cause.LATE
    assert "no ping for 15m1s" in verdict.summary
    assert "expected every 5m + grace 10m" in verdict.summary


def test_never_pinged_counts_from_first_seen():
    """A job that never pinged is fine until `every` + `grace` after the check was first seen."""
    signals = Signals(first_seen_at=T0)
    assert evaluate(signals, config(), T0 + m(15)).cause is Cause.WAITING
    late = evaluate(signals, config(), T0 + m(16))
    assert late.cause is Cause.LATE and "since the check started 16m ago" in late.summary


def test_failed_run_is_critical_with_exit_code_and_body():
    """A /fail or non-zero exit is critical, naming the exit code and the job's message."""
    signals = Signals(
        first_seen_at=T0, last_ping_at=T0, last_fail_at=T0 + m(5), last_exit_code=3,
        last_body="disk full",
    )  # fmt: skip
    verdict = evaluate(signals, config(), T0 + m(6))
    assert verdict.status is Status.CRITICAL and verdict.cause is Cause.FAILED
    assert "exit code 3" in verdict.summary and "disk full" in verdict.summary


def test_success_after_failure_is_ok():
    """A success after a failure is ok again."""
    signals = Signals(first_seen_at=T0, last_fail_at=T0, last_ping_at=T0 + m(1))
    assert evaluate(signals, config(), T0 + m(2)).status is Status.OK


def test_start_without_end_within_max_runtime_is_running_then_overrun():
    """A /start holds lateness off until `max_runtime`; past it the check is critical."""
    cfg = config(max_runtime="30m")
    signals = Signals(first_seen_at=T0, last_ping_at=T0, last_start_at=T0 + m(5))
    running = evaluate(signals, cfg, T0 + m(20))  # past every + grace, but within max_runtime
    assert running.status is Status.OK and running.cause is Cause.RUNNING
    over = evaluate(signals, cfg, T0 + m(36))
    assert over.status is Status.CRITICAL and over.cause is Cause.OVERRUN
    assert "not finished within max_runtime 30m" in over.summary


def test_start_without_max_runtime_does_not_hold_lateness_off():
    """Without `max_runtime` a job that starts and hangs is still reported late."""
    signals = Signals(first_seen_at=T0, last_ping_at=T0, last_start_at=T0 + m(5))
    assert evaluate(signals, config(), T0 + m(16)).cause is Cause.LATE


def test_schedule_in_a_time_zone():
    """With `schedule`, the next ping is due at the next cron time (in `timezone`) + grace."""
    cfg = config(schedule="0 2 * * *", timezone="Europe/Berlin", grace="30m")
    ran = datetime(2026, 11, 26, 1, 5, tzinfo=UTC)  # 02:05 in Berlin (UTC+1 in November)
    signals = Signals(first_seen_at=ran, last_ping_at=ran)
    due = datetime(2026, 11, 27, 1, 30, tzinfo=UTC)  # next 02:00 Berlin + 30m
    assert evaluate(signals, cfg, due).status is Status.OK
    late = evaluate(signals, cfg, due + timedelta(seconds=1))
    assert late.cause is Cause.LATE and "'0 2 * * *' Europe/Berlin" in late.summary


def test_schedule_uses_cron_weekday_numbers():
    """Weekday 1 is Monday, as in crontab(5) (APScheduler 3 counts from Monday = 0)."""
    cfg = config(schedule="0 6 * * 1", grace="1h")
    friday = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    verdict = evaluate(Signals(first_seen_at=friday, last_ping_at=friday), cfg, friday)
    assert verdict.deadline == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # Monday 06:00 + 1h


def test_long_bodies_are_cut_in_the_summary():
    """A long message is cut in the summary, so pages stay readable."""
    signals = Signals(first_seen_at=T0, last_ping_at=T0, last_body="x" * 5000)
    summary = evaluate(signals, config(), T0).summary
    assert len(summary) < 400 and summary.count("x") == 201  # 200 of the body, 1 of "next"


@given(
    ping=st.integers(min_value=0, max_value=10_000),
    later=st.integers(min_value=0, max_value=10_000),
)
def test_late_exactly_when_past_every_plus_grace(ping: int, later: int):
    """For any ping time, the verdict is late exactly when now > ping + every + grace."""
    cfg = config(every="7m", grace="3m")
    at = T0 + timedelta(seconds=ping)
    now = at + timedelta(seconds=later)
    verdict = evaluate(Signals(first_seen_at=T0, last_ping_at=at), cfg, now)
    assert (verdict.cause is Cause.LATE) == (later > 600)


def test_feed_counts_a_failure_once():
    """A failed run is fed when it arrives (with `failures` as retries), not again on schedule."""
    check = HeartbeatCheck(config(failures=2), CheckContext())
    failed = Signals(first_seen_at=T0, last_fail_at=T0, last_exit_code=1)
    fed = check.feed(failed, T0, Signal.FAIL).fed
    assert fed is not None and fed[0].status is Status.CRITICAL and fed[1].retries == 2
    again = check.feed(failed, T0 + m(1), None)
    assert again.fed is None and again.wake == T0 + m(15)  # still judged late at its deadline
    late = check.feed(failed, T0 + m(16), None).fed
    assert late is not None and late[0].status is Status.CRITICAL and late[1].retries == 1


def test_wake_at_the_deadline_of_the_last_ping_or_schedule():
    """The check is judged again at the last ping + every + grace, or at the next schedule
    time + grace; once late, only a ping changes it."""
    pinged = Signals(first_seen_at=T0, last_ping_at=T0 + m(3))
    assert wake_at(pinged, config(), T0 + m(4)) == T0 + m(18)
    assert wake_at(Signals(first_seen_at=T0), config(), T0) == T0 + m(15)
    assert wake_at(pinged, config(), T0 + m(19)) is None
    nightly = config(schedule="0 2 * * *", grace="30m")
    ran = datetime(2026, 11, 26, 2, 5, tzinfo=UTC)
    signals = Signals(first_seen_at=ran, last_ping_at=ran)
    assert wake_at(signals, nightly, ran) == datetime(2026, 11, 27, 2, 30, tzinfo=UTC)


def test_wake_at_the_end_of_max_runtime_for_a_run_in_progress():
    """A started run is judged again when `max_runtime` ends (it holds lateness off until then)."""
    started = Signals(first_seen_at=T0, last_ping_at=T0, last_start_at=T0 + m(5))
    assert wake_at(started, config(max_runtime="30m"), T0 + m(6)) == T0 + m(35)
    assert wake_at(started, config(max_runtime="30m"), T0 + m(36)) is None
    assert wake_at(started, config(), T0 + m(6)) == T0 + m(15)  # no max_runtime: the deadline


@given(
    ping=st.none() | st.integers(min_value=0, max_value=3_000),
    start=st.none() | st.integers(min_value=0, max_value=3_000),
    fail=st.none() | st.integers(min_value=0, max_value=3_000),
    now=st.integers(min_value=0, max_value=6_000),
    between=st.floats(min_value=0, max_value=1),
    max_runtime=st.sampled_from([None, "10m"]),
)
def test_the_verdict_changes_by_time_only_at_wake(ping, start, fail, now, between, max_runtime):
    """Between `now` and `wake_at` the status stays what it is at `now`; just after the wake
    it is late or overrun; without a wake it already is."""

    def at(s: int | None) -> datetime | None:
        return None if s is None else T0 + timedelta(seconds=s)

    signals = Signals(first_seen_at=T0, last_ping_at=at(ping), last_start_at=at(start),
                      last_fail_at=at(fail))  # fmt: skip
    cfg = config(every="7m", grace="3m", max_runtime=max_runtime)
    t = T0 + timedelta(seconds=max(now, ping or 0, start or 0, fail or 0))
    wake = wake_at(signals, cfg, t)
    timed = (Cause.LATE, Cause.OVERRUN)
    if wake is None:
        assert evaluate(signals, cfg, t).cause in timed
        return
    meanwhile = t + (wake - t) * between
    assert evaluate(signals, cfg, meanwhile).status is evaluate(signals, cfg, t).status
    assert evaluate(signals, cfg, wake).cause not in timed
    assert evaluate(signals, cfg, wake + timedelta(microseconds=1)).cause in timed
