"""Results relayed by a satellite: whether each is applied, and whether a satellite is silent.

A satellite (docs/satellites.md) runs a remote site's checks and pushes their results to the
central daemon in batches; while its link is down it buffers them and replays them later, with
the times they were taken. The central daemon applies a result to the check's state machine
only when it is both *in order* (newer than the last result applied to the check) and *fresh*
(taken no longer ago than `stale_after`): a buffered failure that is over by the time it
arrives is kept for the record but never pages. Pure: every time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# A satellite's clock may run a little ahead of the central daemon's: results up to this far
# in the future are taken as "now"; further ahead they are refused (the satellite's clock is
# wrong, and a result from the future would shadow every real one after it).
CLOCK_SKEW = timedelta(minutes=2)


class Fate(StrEnum):
    """What the central daemon does with one relayed result."""

    APPLIED = "applied"  # fed through the check's state machine at its original time
    LATE = "late"  # older than the staleness bound: recorded (log, reply), never paged
    SUPERSEDED = "superseded"  # not newer than the check's last applied result: recorded
    FUTURE = "future"  # taken further in the future than CLOCK_SKEW: refused
    RELAYED = "relayed"  # fresh at a node of a cluster not owning the check: stored for its owner


def stale_after(interval: timedelta, slack: timedelta) -> timedelta:
    """How old a relayed result may be and still be applied: two of the check's intervals
    (one missed run is normal) plus `slack`, the satellite's push period and transfer time."""
    return 2 * interval + slack


def fate(
    at: datetime,
    now: datetime,
    last_applied: datetime | None,
    interval: timedelta,
    slack: timedelta,
) -> Fate:
    """The fate of a result taken `at`, arriving `now`, for a check whose last applied result
    was taken `last_applied` (None: none yet)."""
    if at > now + CLOCK_SKEW:
        return Fate.FUTURE
    if last_applied is not None and at <= last_applied:
        return Fate.SUPERSEDED
    if now - at > stale_after(interval, slack):
        return Fate.LATE
    return Fate.APPLIED


def held_fate(
    at: datetime,
    received_at: datetime,
    now: datetime,
    last_applied: datetime | None,
    interval: timedelta,
) -> Fate:
    """The fate, at the owner's catch-up round `now`, of a result taken `at` that another node
    of a cluster received fresh at `received_at` and stored for the owner: superseded when not
    newer than the check's last applied result; late when it waited in the store longer than
    two of the check's intervals (its owner was changing hands meanwhile), so a result the
    cluster could not apply in time is recorded, never paged; applied otherwise."""
    if last_applied is not None and at <= last_applied:
        return Fate.SUPERSEDED
    if now - received_at > 2 * interval:
        return Fate.LATE
    return Fate.APPLIED


@dataclass(frozen=True)
class Silence:
    """Whether a satellite is silent at an instant, and since or until when."""

    silent: bool
    last_heard: datetime
    deadline: datetime  # when it is (or was) silent from, without another batch


def silence(last_heard: datetime, now: datetime, silent_after: timedelta) -> Silence:
    """A satellite last heard `last_heard` is silent once `silent_after` has passed."""
    deadline = last_heard + silent_after
    return Silence(now >= deadline, last_heard, deadline)
