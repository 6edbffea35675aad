"""Who is on call: (schedule, overrides, instant) -> persons. Pure; time is passed in.

A schedule has layers and overrides, all in the schedule's time zone:

- A layer's members take turns of `rotation`, the first turn from `start` (a handoff
  instant); before `start` the layer has nobody. With `restrict` windows the layer has its
  member only inside them; outside, the rotation carries on unseen (turns are not paused).
- A later layer wins wherever it has someone on call; where it has nobody, the one below
  decides. Exactly one layer (or one override, or nobody) decides at any instant.
- An override puts its person on call from `start` (included) to `end` (excluded), above every
  layer. Where overrides overlap, the last one given wins: the schedule's own first, then the
  run-time ones (`overrides=` arguments) in the order given.

Turns and DST (the rule a later engineer must keep):
- A rotation that is a whole number of days ("1d", "7d", "1w", "2w") counts LOCAL CALENDAR days:
  turn n starts at the wall time `start + n * rotation` in the zone, so a 09:00 handoff stays
  09:00 local all year, and a 1-day turn over the spring-forward night lasts 23 h (25 h over
  the autumn one).
- Any other rotation ("12h", "8h", "1d12h") counts ELAPSED time from the start instant: a
  12-hour turn lasts 12 real hours, so a 08:00/20:00 pattern shifts by an hour of wall time
  for the half-year DST is in force after it began. Write shift patterns as layers with whole
  day rotations and `restrict` windows to keep them on the wall clock.
- Wall times that happen twice or never are placed by `timewindows.local_instant`.

Every instant returned is UTC; callers show it in the zone they like.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from escalatord.core.timewindows import Window, local_instant

DAY = timedelta(days=1)
# How far `next_change` looks for a change: past this it answers None ("no change ahead").
HORIZON = timedelta(days=366)
_FIRST_CHUNK = timedelta(days=7)


@dataclass(frozen=True)
class Layer:
    """One rotation: `members` in turn order, `start` a naive LOCAL time (the first handoff),
    `rotation` the turn length, `restrict` the windows it has someone in (none: always)."""

    members: tuple[str, ...]
    start: datetime
    rotation: timedelta
    restrict: tuple[Window, ...] = ()

    def __post_init__(self) -> None:
        if self.rotation <= timedelta(0):
            raise ValueError("a layer's rotation must be longer than 0s")
        if self.start.tzinfo is not None:
            raise ValueError("a layer's start is a naive local time in the schedule's zone")

    @property
    def counts_days(self) -> bool:
        """Whether turns count local calendar days (module docstring) rather than elapsed time."""
        return self.rotation % DAY == timedelta(0)


@dataclass(frozen=True)
class Override:
    """`person` is on call from `start` (included) until `end` (excluded): aware instants."""

    person: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Schedule:
    """A rota: `zone` places every local time; layers bottom first; its own overrides."""

    name: str
    zone: tzinfo
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class Decision:
    """Who is on call at an instant and what decided: the index of the deciding layer, or the
    override; both None when nobody is on call."""

    persons: tuple[str, ...]
    layer: int | None = None
    override: Override | None = None


@dataclass(frozen=True)
class Segment:
    """A stretch of the rota: `persons` are on call from `start` until `end` (UTC)."""

    start: datetime
    end: datetime
    persons: tuple[str, ...]


def layer_on_call(layer: Layer, zone: tzinfo, at: datetime) -> str | None:
    """The member of `layer` on call at `at`, or None (not started, or outside `restrict`)."""
    at = _utc(at)
    if not layer.members:
        return None
    turn = _turn(layer, zone, at)
    if turn < 0:
        return None
    if layer.restrict and not any(w.contains(at, zone) for w in layer.restrict):
        return None
    return layer.members[turn % len(layer.members)]


def decide(schedule: Schedule, at: datetime, overrides: Sequence[Override] = ()) -> Decision:
    """Who is on call in `schedule` at the instant `at` (aware), and which layer or override
    decided. `overrides` (run-time ones) come after the schedule's own: the last active wins."""
    at = _utc(at)
    for override in reversed((*schedule.overrides, *overrides)):
        if override.start <= at < override.end:
            return Decision((override.person,), override=override)
    for index in range(len(schedule.layers) - 1, -1, -1):
        person = layer_on_call(schedule.layers[index], schedule.zone, at)
        if person is not None:
            return Decision((person,), layer=index)
    return Decision(())


def on_call(
    schedule: Schedule, at: datetime, overrides: Sequence[Override] = ()
) -> tuple[str, ...]:
    """The persons on call in `schedule` at `at`: one name, or () for nobody."""
    return decide(schedule, at, overrides).persons


def next_change(
    schedule: Schedule,
    at: datetime,
    overrides: Sequence[Override] = (),
    horizon: timedelta = HORIZON,
) -> datetime | None:
    """The first instant after `at` at which the persons on call differ from those at `at`
    ("until when"); None if they stay the same for `horizon`."""
    at = _utc(at)
    current = on_call(schedule, at, overrides)
    limit, low, chunk = at + horizon, at, _FIRST_CHUNK
    # Boundaries are looked at a week first, then ever longer stretches: a busy rota answers
    # from its first week, a rota of one person reaches the horizon in a few steps.
    while low < limit:
        high = min(low + chunk, limit)
        for instant in _boundaries(schedule, overrides, low, high):
            if on_call(schedule, instant, overrides) != current:
                return instant
        low, chunk = high, chunk * 2
    return None


def rota(
    schedule: Schedule, start: datetime, end: datetime, overrides: Sequence[Override] = ()
) -> list[Segment]:
    """The rota from `start` until `end`: consecutive segments covering the span, each with
    the persons on call through it (a change of person starts a new segment; () is nobody)."""
    start, end = _utc(start), _utc(end)
    if end <= start:
        return []
    segments: list[Segment] = []
    opened, current = start, on_call(schedule, start, overrides)
    for instant in _boundaries(schedule, overrides, start, end):
        persons = on_call(schedule, instant, overrides) if instant < end else current
        if persons != current:
            segments.append(Segment(opened, instant, current))
            opened, current = instant, persons
    segments.append(Segment(opened, end, current))
    return segments


def handoff(layer: Layer, zone: tzinfo, turn: int) -> datetime:
    """The UTC instant turn number `turn` of `layer` begins (turn 0 at `start`)."""
    if layer.counts_days:
        return local_instant(layer.start + turn * layer.rotation, zone)
    return local_instant(layer.start, zone) + turn * layer.rotation


def _turn(layer: Layer, zone: tzinfo, at: datetime) -> int:
    """The number of the turn running at `at`: negative before the layer's start."""
    if not layer.counts_days:
        return (at - local_instant(layer.start, zone)) // layer.rotation
    # A guess from the wall clock, corrected against the real handoff instants: the wall clock
    # of a DST night is off by the shift, but never by a whole turn of at least a day.
    wall = at.astimezone(zone).replace(tzinfo=None)
    turn = (wall - layer.start) // layer.rotation
    while handoff(layer, zone, turn + 1) <= at:
        turn += 1
    while handoff(layer, zone, turn) > at:
        turn -= 1
    return turn


def _boundaries(
    schedule: Schedule, overrides: Sequence[Override], low: datetime, high: datetime
) -> list[datetime]:
    """Every instant in (low, high] at which the answer may change, sorted: handoffs, layer
    starts, restrict windows opening and closing, overrides starting and ending."""
    found: set[datetime] = set()
    for layer in schedule.layers:
        found.update(_layer_boundaries(layer, schedule.zone, low, high))
    for override in (*schedule.overrides, *overrides):
        found.update(t.astimezone(UTC) for t in (override.start, override.end) if low < t <= high)
    return sorted(found)


def _layer_boundaries(
    layer: Layer, zone: tzinfo, low: datetime, high: datetime
) -> Iterator[datetime]:
    first = max(_turn(layer, zone, low) + 1, 0)
    # With one member a handoff changes nobody: only the layer's start matters.
    last = _turn(layer, zone, high) if len(layer.members) > 1 else min(_turn(layer, zone, high), 0)
    for turn in range(first, last + 1):
        yield handoff(layer, zone, turn)
    if layer.restrict:
        first_day = low.astimezone(zone).date() - DAY
        last_day = high.astimezone(zone).date() + DAY
        for window in layer.restrict:
            for opens, closes in window.occurrences(first_day, last_day, zone):
                yield from (t for t in (opens, closes) if low < t <= high)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("on-call times must be timezone-aware instants")
    return at.astimezone(UTC)
