"""Escalation timing: which pages are due, from a policy snapshot and when the ladder started.

When an incident opens, `snapshot(policy)` is stored with it; everything after works from that
snapshot, so editing the config never changes an escalation already running.

The plan is every level of every cycle, in order. Cycle 0 is the ladder itself; with
`repeat = n` it runs n more times, each `repeat_every` after the previous cycle began:

    step (cycle c, level l) is due at  base + c * repeat_every + levels[l].after

`base` is when the ladder started: the incident's `opened_at`, or `ladder_at` once an
`ack_timeout` or the end of a snooze restarted it from level 0 (callers pass
`ladder_at or opened_at`).

The store keeps only `next_index` (and `next_step_at` for the timer). `due()` hands out every
step from `next_index` whose time has come, so a caller that stores the new `next_index` in the
same transaction as the pages it enqueues never sends a step twice or skips one, however late
it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from escalatord.core.events import Event


@dataclass(frozen=True)
class Step:
    """One planned page: level `level` of cycle `cycle`, due at `due_at`, to `notify`."""

    index: int
    cycle: int
    level: int
    due_at: datetime
    notify: tuple[str, ...]
    event: Event


class Level(Protocol):
    @property
    def after(self) -> timedelta: ...
    @property
    def notify(self) -> Sequence[str]: ...


class Policy(Protocol):
    """What a snapshot reads of a policy; `config.model.PolicyConfig` satisfies it."""

    @property
    def name(self) -> str: ...
    @property
    def repeat(self) -> int: ...
    @property
    def repeat_every(self) -> timedelta | None: ...
    @property
    def levels(self) -> Sequence[Level]: ...
    @property
    def ack_timeout(self) -> timedelta | None: ...


def snapshot(policy: Policy) -> dict[str, Any]:
    """A JSON-serialisable copy of `policy`, to store with an incident when it opens.

    `ack_timeout_s` is there only when the policy sets `ack_timeout`: snapshots stored before
    it existed lack it too, so readers use `ack_timeout()`.
    """
    every = policy.repeat_every
    snap: dict[str, Any] = {
        "name": policy.name,
        "repeat": policy.repeat,
        "repeat_every_s": every.total_seconds() if every is not None else None,
        "levels": [
            {"after_s": level.after.total_seconds(), "notify": list(level.notify)}
            for level in policy.levels
        ],
    }
    if policy.ack_timeout is not None:
        snap["ack_timeout_s"] = policy.ack_timeout.total_seconds()
    return snap


def ack_timeout(snap: dict[str, Any] | None) -> timedelta | None:
    """How long an acknowledgement holds under this snapshot (None: for good)."""
    seconds = (snap or {}).get("ack_timeout_s")
    return timedelta(seconds=float(seconds)) if seconds is not None else None


def _event(cycle: int, level: int) -> Event:
    if cycle > 0:
        return Event.REMINDER
    return Event.TRIGGERED if level == 0 else Event.ESCALATED


def plan(snap: dict[str, Any], base: datetime) -> list[Step]:
    """Every step of every cycle of the snapshot, in order of index (and so of due time).

    Raises ValueError when the snapshot is not one `snapshot()` could have made from a valid
    policy (levels out of order, a repeat without `repeat_every_s`, cycles that overlap).
    """
    levels = snap["levels"]
    repeat = int(snap.get("repeat") or 0)
    every_s = snap.get("repeat_every_s")
    afters = [float(level["after_s"]) for level in levels]
    name = snap.get("name", "?")
    if not levels:
        raise ValueError(f"policy snapshot {name!r} has no levels")
    if afters != sorted(afters):
        raise ValueError(f"policy snapshot {name!r}: levels must be in order of after_s")
    if repeat and every_s is None:
        raise ValueError(f"policy snapshot {name!r}: repeat_every_s is required when repeat > 0")
    if repeat and float(every_s) <= afters[-1]:
        # Overlapping cycles would make index order differ from time order, and due() relies
        # on the two agreeing.
        raise ValueError(
            f"policy snapshot {name!r}: repeat_every_s must exceed the last level's after_s"
        )
    steps = []
    for cycle in range(repeat + 1):
        start = cycle * float(every_s or 0.0)
        for number, level in enumerate(levels):
            steps.append(
                Step(
                    index=len(steps),
                    cycle=cycle,
                    level=number,
                    due_at=base + timedelta(seconds=start + afters[number]),
                    notify=tuple(level["notify"]),
                    event=_event(cycle, number),
                )
            )
    return steps


def due(
    snap: dict[str, Any], base: datetime, next_index: int, now: datetime
) -> tuple[list[Step], int, datetime | None]:
    """The steps due by `now` from `next_index` on, the new next index, and when the next step
    still to come is due (None when the plan is exhausted).

    Steps before `next_index` are never returned again; every step due by `now` is returned,
    in order, however late the call (a restart gets each missed step once).
    """
    if next_index < 0:
        raise ValueError(f"next_index must be 0 or more, got {next_index}")
    steps = plan(snap, base)
    ready: list[Step] = []
    index = next_index
    # Index order is time order (plan() checks it), so the due steps are a prefix.
    while index < len(steps) and steps[index].due_at <= now:
        ready.append(steps[index])
        index += 1
    upcoming = steps[index].due_at if index < len(steps) else None
    return ready, index, upcoming
