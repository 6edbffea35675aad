"""The `heartbeat` check: a dead man's switch for jobs and interfaces that report in.

    [[check]]
    name = "hl7-adt-feed"
    type = "heartbeat"
    every = "5m"                  # a ping is expected at least this often...
    # schedule = "0 2 * * *"      # ...or on a cron schedule (minute hour day month weekday)
    # timezone = "Europe/Berlin"  # the schedule's time zone (default UTC)
    grace = "10m"                 # how late a ping may be before the check is critical
    # max_runtime = "1h"          # a /start must be followed by success within this
    # failures = 1                # failed runs in a row (/fail, exit code > 0) before critical
    token_file = "/etc/escalatord/hl7-adt-feed.token"   # or token = "${HL7_TOKEN}"
    # interval = "30s"            # how often the summary is refreshed (lateness is not polled)

The job calls `POST /heartbeat/<check>` (or GET, for curl-only places) when it succeeds,
`/start` when it begins, `/fail` or `/<exit-code>` when it ends; the token goes in
`Authorization: Bearer …` or `?token=…`. A request body is kept (size-limited) and shown in
the summary. Signals are stored, so a restart neither makes a healthy job look late nor a
late one look healthy.

The check is passive: nothing is probed. A signal is judged at once; lateness and overruns
are judged at the instant they begin: every judgement (`feed`) also says when the verdict
next changes by time alone (`wake_at`: the deadline, or the end of `max_runtime`), and the
monitor runs the check then, on the same timer heap as every check. The run every `interval`
only refreshes the summary ("last ping 4m ago"). `evaluate()` and `wake_at()` are pure
functions of (signals, config, now), so after a restart the deadline follows from the
stored signals. `grace` is the tolerance for lateness and overruns, so those are critical
at once; `failures` says how many failed runs in a row make a failure real. `retries`,
`retry_interval` and `recover_after` do not apply: a success ping recovers.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim
from pydantic import Field, field_validator, model_validator

from escalatord.checks.base import Check, CheckConfig
from escalatord.core.durations import format_duration
from escalatord.core.state import Settings
from escalatord.core.status import Judged, Result, Status
from escalatord.fields import Duration, cron_schedule, secret_token
from escalatord.heartbeats.signals import Signal, Signals, latest

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from escalatord.store.db import Store

BODY_LIMIT = 10_000  # bytes of a signal's body that are kept
SUMMARY_BODY = 200  # characters of it shown in a summary
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


class HeartbeatConfig(CheckConfig):
    every: Duration | None = None
    schedule: str | None = None
    timezone: str = "UTC"
    grace: Duration
    max_runtime: Duration | None = None
    failures: int = Field(default=1, ge=1, le=100)
    token: str = Field(repr=False)

    @field_validator("token")
    @classmethod
    def _token(cls, value: str) -> str:
        return secret_token(value, "")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f'unknown time zone {value!r}: use an IANA name such as "Europe/Berlin" or "UTC"'
            ) from None
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return cron_schedule(value, '"0 2 * * *" for 02:00 every day')

    @model_validator(mode="after")
    def _rhythm(self) -> HeartbeatConfig:
        if (self.every is None) == (self.schedule is None):
            raise ValueError(
                'set exactly one of every (e.g. every = "5m") or schedule (a cron '
                'expression, e.g. schedule = "0 2 * * *")'
            )
        if self.every is not None and self.every <= timedelta(0):
            raise ValueError("every must be longer than 0s")
        if "timezone" in self.model_fields_set and self.schedule is None:
            raise ValueError("timezone only applies to schedule; remove it or use schedule")
        return self


class Cause(enum.StrEnum):
    WAITING = "waiting"  # no run finished yet, and not late
    OK = "ok"
    RUNNING = "running"  # started, within max_runtime
    FAILED = "failed"  # the last run failed
    LATE = "late"
    OVERRUN = "overrun"  # started, not finished within max_runtime


@dataclass(frozen=True)
class Verdict:
    status: Status
    summary: str
    cause: Cause
    deadline: datetime  # when the next ping is due at the latest (expected time + grace)


def expected_after(config: HeartbeatConfig, ref: datetime) -> datetime:
    """When the next ping is expected after `ref` (without grace)."""
    if config.every is not None:
        return ref + config.every
    assert config.schedule is not None
    try:
        nxt = next(CronSim(config.schedule, ref.astimezone(ZoneInfo(config.timezone))))
    except StopIteration:
        return FAR_FUTURE
    return nxt.astimezone(UTC)


def deadline_of(signals: Signals, config: HeartbeatConfig, now: datetime) -> datetime:
    """When the next ping is due at the latest (expected time + grace). Pure.

    The next ping is expected `every` after the last finished run (or at the next `schedule`
    time after it); a check that never heard from its job counts from when it was first seen
    (or from `now`, before it is).
    """
    ref = signals.finished_at or signals.first_seen_at or now
    expected = expected_after(config, ref)
    # A schedule with no next time gives FAR_FUTURE, where adding grace would overflow.
    return expected + config.grace if expected < FAR_FUTURE - config.grace else FAR_FUTURE


def _running_since(signals: Signals) -> datetime | None:
    """When the run in progress (a /start without an end after it) began; None if none."""
    started, finished = signals.last_start_at, signals.finished_at
    return started if started is not None and (finished is None or started > finished) else None


def evaluate(signals: Signals, config: HeartbeatConfig, now: datetime) -> Verdict:
    """Judge the stored signals at `now`. Pure.

    Late means past the deadline (`deadline_of`). A run in progress (/start without an end)
    holds lateness off only while `max_runtime` is set and not exceeded.
    """
    finished = signals.finished_at
    deadline = deadline_of(signals, config, now)
    started = _running_since(signals)
    last = _last_run(signals, now)
    if started is not None and config.max_runtime is not None:
        if now - started > config.max_runtime:
            return Verdict(
                Status.CRITICAL,
                f"started {_ago(now, started)} ago and not finished within max_runtime "
                f"{format_duration(config.max_runtime)}{last}",
                Cause.OVERRUN,
                deadline,
            )
        if signals.failed:
            return Verdict(Status.CRITICAL, _failure(signals, now), Cause.FAILED, deadline)
        return Verdict(
            Status.OK, f"running since {_ago(now, started)} ago{last}", Cause.RUNNING, deadline
        )
    if now > deadline:
        return Verdict(Status.CRITICAL, _late(config, signals, now), Cause.LATE, deadline)
    if signals.failed:
        return Verdict(Status.CRITICAL, _failure(signals, now), Cause.FAILED, deadline)
    if finished is None:
        return Verdict(
            Status.OK,
            f"no ping yet; the first is due by {_when(deadline)}",
            Cause.WAITING,
            deadline,
        )
    return Verdict(
        Status.OK,
        f"last ping {_ago(now, finished)} ago{_body(signals)}; next due by {_when(deadline)}",
        Cause.OK,
        deadline,
    )


def wake_at(signals: Signals, config: HeartbeatConfig, now: datetime) -> datetime | None:
    """The instant after which `evaluate` turns critical with no new signal, if it is after
    `now`: the end of `max_runtime` for a run in progress (which holds lateness off), else
    the deadline. None when nothing but a signal can change the verdict (already late or
    overrun, or a schedule that never fires again). Pure."""
    started = _running_since(signals)
    if started is not None and config.max_runtime is not None:
        at = started + config.max_runtime
    else:
        at = deadline_of(signals, config, now)
    return at if now <= at < FAR_FUTURE else None


def _ago(now: datetime, then: datetime) -> str:
    return format_duration(timedelta(seconds=max(0, round((now - then).total_seconds()))))


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _body(signals: Signals) -> str:
    text = " ".join((signals.last_body or "").split())
    if not text:
        return ""
    if len(text) > SUMMARY_BODY:
        text = text[:SUMMARY_BODY] + "…"
    return f': "{text}"'


def _last_run(signals: Signals, now: datetime) -> str:
    finished = signals.finished_at
    if finished is None:
        return ""
    outcome = "failed" if signals.failed else "succeeded"
    return f"; the last run {outcome} {_ago(now, finished)} ago"


def _failure(signals: Signals, now: datetime) -> str:
    assert signals.last_fail_at is not None
    code = "" if signals.last_exit_code is None else f" with exit code {signals.last_exit_code},"
    return f"the job failed{code} {_ago(now, signals.last_fail_at)} ago{_body(signals)}"


def _late(config: HeartbeatConfig, signals: Signals, now: datetime) -> str:
    if config.every is not None:
        rhythm = f"expected every {format_duration(config.every)}"
    else:
        rhythm = f"schedule {config.schedule!r} {config.timezone}"
    rhythm += f" + grace {format_duration(config.grace)}"
    finished = signals.finished_at
    if finished is None:
        seen = signals.first_seen_at or now
        return f"no ping since the check started {_ago(now, seen)} ago ({rhythm})"
    return f"no ping for {_ago(now, finished)} ({rhythm}){_last_run(signals, now)}"


class HeartbeatCheck(Check):
    """A passive check judged from stored signals; see the module docstring for the keys."""

    Config = HeartbeatConfig
    config: HeartbeatConfig
    kind: ClassVar[Literal["active", "passive"]] = "passive"

    def params(self, signal: Signal | None) -> Settings:
        """`failures` for a failed run; everything else is decided by one result."""
        retries = self.config.failures if signal is Signal.FAIL else 1
        every = self.config.interval
        return Settings(retries=retries, recover_after=1, interval=every, retry_interval=every)

    def feed(self, signals: Signals, now: datetime, signal: Signal | None) -> Judged:
        """The judgement after `signal` (None: a scheduled evaluation): the result to feed the
        state machine, or None when there is nothing new to count, and when to judge again.

        A failed run is counted once, when its signal arrives: judging it again on schedule
        would count one failure many times toward `failures`.
        """
        verdict = evaluate(signals, self.config, now)
        wake = wake_at(signals, self.config, now)
        if verdict.cause is Cause.FAILED and signal is not Signal.FAIL:
            return Judged(None, wake)
        measurements: dict[str, float] = {}
        if signals.finished_at is not None:
            measurements["since_last_run_s"] = round((now - signals.finished_at).total_seconds())
        if signals.last_exit_code is not None:
            measurements["exit_code"] = float(signals.last_exit_code)
        result = Result(verdict.status, verdict.summary, measurements, at=now)
        return Judged((result, self.params(signal)), wake)

    async def evaluate(self, store: Store, now: datetime) -> Judged:
        """Judge the stored signals at `now` (the scheduler's run of a passive check)."""
        from escalatord.heartbeats import store as heartbeats  # SQLAlchemy only where it runs

        async with store.read() as conn:
            signals = await heartbeats.load(conn, self.name)
        if signals is None or signals.first_seen_at is None:
            # First sight of this check: lateness of a job that never pings counts from now.
            async with store.write() as conn:
                signals = await heartbeats.first_seen(conn, self.name, now)
        return self.feed(signals, now, None)

    @classmethod
    async def relayed(
        cls,
        store: Store,
        checks: Sequence[HeartbeatCheck],
        judged_at: Mapping[str, datetime | None],
        now: datetime,
    ) -> list[tuple[str, datetime, Judged]]:
        """A node of a cluster owning `checks`: the judgement of each one's newest signal when
        it arrived after the check was last judged (`judged_at`), so stored by another node
        (monitor/handover.py `catch_up`). One read for all of them."""
        from escalatord.heartbeats import store as heartbeats  # SQLAlchemy only where it runs

        async with store.read() as conn:
            stored = await heartbeats.load_all(conn)
        found = []
        for check in checks:
            signals = stored.get(check.name)
            newest = latest(signals) if signals is not None else None
            if signals is None or newest is None:
                continue
            at, signal = newest
            last = judged_at.get(check.name)
            if last is None or at > last:
                found.append((check.name, at, check.feed(signals, now, signal)))
        return found

    async def probe(self) -> Result:
        # Only the daemon sees the signals (they arrive over HTTP and live in its store).
        return Result(
            Status.UNKNOWN,
            "a heartbeat is judged by the running daemon from the pings it receives "
            f"(POST /heartbeat/{self.name}); it cannot be run by hand",
        )
