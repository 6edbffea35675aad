"""Soft and hard check states, Nagios-like. Pure: `step(state, result, params, now)`.

A check's *hard* status is the one the rest of escalatord acts on. A single odd result does not
change it: the state goes *soft* (`hard=False`, `pending` = the status it leans to) and counts
`attempts`. Only when enough consecutive results agree does the hard status change, and only
then is a `Transition` emitted — the one thing that can open or resolve an incident.

    hard OK ──problem×retries──▶ hard PROBLEM ──OK×recover_after──▶ hard OK
    hard PROBLEM ──another problem status──▶ that status, at once (critical → warning)

`Status.UNREACHABLE` counts as a problem status like any other, except that leaving it for a
problem of the check's own (critical, warning, unknown) takes `retries` results, as from ok.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from escalatord.core.status import Status


@dataclass(frozen=True)
class CheckState:
    """The state of one check between results.

    `attempts` counts consecutive results that disagree with the hard `status`; it is 0 exactly
    when the state is hard, and `pending` (the status a soft state leans to) is None then.
    `since` is when the hard status began (for a new check: its first result).
    `flap_history` (a letter per status of the newest results, oldest first) and `flapping`
    are flap detection's (core/flapping.py), updated from every result apart from `step`.
    """

    status: Status = Status.OK
    hard: bool = True
    attempts: int = 0
    pending: Status | None = None
    since: datetime | None = None
    last_status: Status | None = None
    last_summary: str = ""
    last_check_at: datetime | None = None
    flap_history: str = ""
    flapping: bool = False


class Params(Protocol):
    """The per-check settings the state machine needs; `CheckConfig` satisfies it."""

    retries: int
    recover_after: int
    interval: timedelta
    retry_interval: timedelta


@dataclass(frozen=True)
class Settings:
    """`Params` given outright rather than read from a check's config: passive results
    (heartbeats, traps) and re-judged signals bring their own."""

    retries: int
    recover_after: int
    interval: timedelta
    retry_interval: timedelta

    @classmethod
    def immediate(cls, interval: timedelta) -> Settings:
        """One result is enough to change the hard status, either way."""
        return cls(retries=1, recover_after=1, interval=interval, retry_interval=interval)


@dataclass(frozen=True)
class Transition:
    """A change of a check's hard status, at `at`, caused by a result with `summary`; or of
    its flapping (core/flapping.py), or both at once.

    `flapping` is None when flapping did not change, else its new value (True: started). A
    transition of flapping alone has `previous` equal to `current`, the unchanged hard status.
    """

    check: str
    previous: Status
    current: Status
    at: datetime
    summary: str
    flapping: bool | None = None

    @property
    def hard_change(self) -> bool:
        """Whether the hard status changed (not only flapping)."""
        return self.previous is not self.current


def step(
    check: str,
    state: CheckState,
    result_status: Status,
    summary: str,
    params: Params,
    now: datetime,
) -> tuple[CheckState, Transition | None]:
    """The state after one result of `check`, and the transition it caused (None if none).

    A transition is returned only when the hard status changes, and its `previous` is always
    the old hard status and `current` the new one.
    """
    seen = replace(
        state,
        last_status=result_status,
        last_summary=summary,
        last_check_at=now,
        # A check's first result starts its (hard OK) history, so "ok since" has a date.
        since=state.since if state.since is not None else now,
    )
    hard = state.status
    if result_status == hard:
        # Agreement with the hard status cancels any pending change (a relapse during
        # recovery, or a recovery during soft failure).
        return _settle(seen), None

    if hard.is_problem and result_status.is_problem and hard is not Status.UNREACHABLE:
        # One problem status to another (critical -> warning) is already confirmed as a
        # problem, so it changes the hard status without retries. Not from unreachable: that
        # was the parent's problem, so a failure of the check's own (a host still down when its
        # router is back, or just slower to answer) needs its retries like any new failure.
        return _harden(check, seen, result_status, summary, now)

    # The result leans away from the hard status: OK -> problem, or problem -> OK.
    threshold = params.retries if result_status.is_problem else params.recover_after
    # Mixed problem statuses while soft (warning, then critical) all count toward the same
    # failure; the newest one is the status the check will go hard in.
    leaning_same_way = state.pending is not None and (
        state.pending.is_problem == result_status.is_problem
    )
    attempts = (state.attempts if leaning_same_way else 0) + 1
    if attempts >= threshold:
        return _harden(check, seen, result_status, summary, now)
    return replace(seen, hard=False, attempts=attempts, pending=result_status), None


def hold(
    state: CheckState, result_status: Status, summary: str, params: Params, now: datetime
) -> CheckState:
    """The state of a check whose failure is confirmed but held back, because a parent it
    depends on is not confirmed up or down yet (core/topology.py): it stays soft, leaning to
    `result_status`, so its next problem result confirms it again once the parent is known."""
    return replace(
        state,
        hard=False,
        attempts=params.retries,
        pending=result_status,
        last_status=result_status,
        last_summary=summary,
        last_check_at=now,
        since=state.since if state.since is not None else now,
    )


def next_delay(state: CheckState, params: Params) -> timedelta:
    """How long until the check should run again: `retry_interval` while a change is pending
    (soft, in either direction), `interval` otherwise."""
    return params.interval if state.hard else params.retry_interval


def _settle(state: CheckState) -> CheckState:
    return replace(state, hard=True, attempts=0, pending=None)


def _harden(
    check: str, state: CheckState, current: Status, summary: str, now: datetime
) -> tuple[CheckState, Transition]:
    previous = state.status
    new = replace(_settle(state), status=current, since=now)
    return new, Transition(check=check, previous=previous, current=current, at=now, summary=summary)
