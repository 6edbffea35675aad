"""What a flapping check does to incidents (flap detection itself: core/flapping.py).

While a check flaps it has one incident of kind "flapping" (key `<check>/flapping`: a "/" is
in no check name, so it never meets a check's own key) instead of a page per change:

- flapping starts: the flapping incident opens through the rules like any problem. The rules
  see the check's labels and the WORST status among its last 21 results (core/flapping.py
  `worst`: critical > unknown > warning > unreachable), so a check flapping between ok and
  critical is routed as critical. A problem incident of the check still open is resolved
  with a note naming the flapping incident, which takes over (its ladder would otherwise go
  on escalating a check that is ok half the time).
- a hard change while flapping opens and resolves nothing; it is noted on the flapping
  incident (timeline and summary), without a page.
- flapping stops: the flapping incident resolves with a note. If the check is failing at that
  moment a normal problem incident opens for it (a new incident, not the flapping one
  converted: its rules, severity and policy are those of the status it fails in, and the
  flapping incident's record stays whole).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from escalatord.core import flapping
from escalatord.core.state import CheckState, Transition
from escalatord.core.status import Status
from escalatord.incidents import service

KIND = "flapping"  # incidents.kind of a flapping incident; NULL for a problem
BY = "flap detection"  # who resolves, on the timeline


@dataclass(frozen=True)
class Opening:
    """What an incident opens as: its dedup key, the status rules see, its summary, and for
    other than a check's own problem its title and kind (None: "<check> is CRITICAL", NULL)."""

    key: str
    status: Status
    summary: str
    title: str | None = None
    kind: str | None = None


def key(check: str) -> str:
    """The dedup key of `check`'s flapping incident."""
    return f"{check}/{KIND}"


def summary(check: str, state: CheckState) -> str:
    """The flapping incident's summary, e.g. "hl7-feed is flapping (state changed 9 times in
    the last 21 results)"."""
    n, seen = flapping.changes(state.flap_history), len(state.flap_history)
    return f"{check} is flapping (state changed {n} times in the last {seen} results)"


def opening(tr: Transition, state: CheckState) -> Opening:
    """How `tr.check`'s flapping incident opens, from its state when flapping started."""
    return Opening(
        key=key(tr.check),
        status=flapping.worst(state.flap_history),
        summary=summary(tr.check, state),
        title=f"{tr.check} is flapping",
        kind=KIND,
    )


async def started(conn: Any, tr: Transition, opened: int | None, now: datetime) -> None:
    """After the flapping incident `opened` (None: no rule matched): the check's open problem
    incident, if any, is resolved with a note; the flapping incident carries on for it."""
    where = (
        f"incident {opened}"
        if opened is not None
        else "no incident (no rule matched, or the check is quiet)"
    )
    await service.resolve_key(
        conn, tr.check, now=now, by=BY, summary=f"{tr.check} is flapping: followed on {where}"
    )


async def changed(conn: Any, tr: Transition, state: CheckState, now: datetime) -> int | None:
    """A hard change while flapping: noted on the flapping incident, nothing paged."""
    if not tr.hard_change:
        return None
    return await service.note_change(
        conn, key(tr.check), now=now, status=tr.current.value, summary=summary(tr.check, state)
    )


async def stopped(conn: Any, tr: Transition, state: CheckState, now: datetime) -> int | None:
    """Flapping stopped: resolve the flapping incident with a note saying how the check is."""
    n, seen = flapping.changes(state.flap_history), len(state.flap_history)
    note = (
        f"{tr.check} is stable again ({n} changes in the last {seen} results), "
        f"{state.status.value} now"
    )
    return await service.resolve_key(conn, key(tr.check), now=now, by=BY, summary=note)
