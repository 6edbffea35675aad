"""The figures of `escalatord report`: a pure function of incident and page rows. Pure.

incidents/history.py reads the rows from the store, commands/report.py prints the figures;
everything that counts or measures is here, so it is tested on a hand-written history.

- MTTA: `acknowledged_at − opened_at` over the incidents acknowledged; MTTR: `resolved_at −
  opened_at` over those resolved. Each as p50 and p90, nearest-rank (`percentile`).
- Escalated: an incident with a page of level ≥ 1 (the ladder went past its first level).
- Pages: delivered pages to a person, one per contact reached; out of hours when delivered
  outside Mon–Fri 08:00–18:00 in the person's zone (`out_of_hours`).
- Drills are counted apart (`Report.drills`) and never in the real figures, groups, pages or
  noisiest checks. Each acknowledged drill is also measured on its own (`drill_acks`): who
  took it, at which level (that of the last page before the ack, `StepRow`), how long after
  it opened and after that page; and those times per level and per person (`AckTimes`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, tzinfo
from typing import Any

NONE = "(none)"  # the group of an incident without a category, site or person
ALL = "(all)"  # the one group without --by
GROUPINGS = ("category", "check", "site", "person")
WORK_START, WORK_END = time(8), time(18)  # working hours, Monday to Friday, local time
NOISIEST = 10  # noisiest checks listed


@dataclass(frozen=True)
class IncidentRow:
    """What the report needs of one incident; `escalated`: a page of level ≥ 1 went out."""

    id: int
    check: str
    opened_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    site: str | None = None
    category: str | None = None
    drill: bool = False
    escalated: bool = False


@dataclass(frozen=True)
class PageRow:
    """One page delivered to a person's contact for an incident."""

    incident_id: int
    person: str
    level: int
    delivered_at: datetime


@dataclass(frozen=True)
class StepRow:
    """A page the ladder sent for an incident: its level and when it was enqueued (to a person
    or a channel, whatever became of it). The rows before an ack say which level it came at."""

    incident_id: int
    level: int
    paged_at: datetime


@dataclass(frozen=True)
class DrillAck:
    """One acknowledged drill: who took it, the level of the last page before the ack, and
    the seconds from its opening and from that page to the ack (None: no page before it)."""

    incident_id: int
    check: str
    by: str | None
    level: int | None
    seconds: float
    after_page: float | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class AckTimes:
    """Times to acknowledge of some drills (one level, or one person), in seconds: from the
    drill's opening (`mtta_*`) and from the last page before the ack (`after_page_*`)."""

    acknowledged: int
    mtta_p50: float | None
    mtta_p90: float | None
    after_page_p50: float | None
    after_page_p90: float | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Figures:
    """The figures of a set of incidents and their pages; times in seconds, None for none."""

    incidents: int
    acknowledged: int
    resolved: int
    mtta_p50: float | None
    mtta_p90: float | None
    mttr_p50: float | None
    mttr_p90: float | None
    escalated: int
    escalated_share: float | None  # escalated / incidents, 0..1
    pages: int
    pages_out_of_hours: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class PersonPages:
    person: str
    pages: int
    out_of_hours: int


@dataclass(frozen=True)
class Report:
    """The whole report: real figures, per group (`by`), pages per person, noisiest checks,
    and the drills' figures apart, with each drill's ack and its times per level and person
    (levels ascending, None last; persons by name, None last)."""

    real: Figures
    drills: Figures
    by: str | None
    groups: dict[str, Figures] = field(default_factory=dict)
    people: list[PersonPages] = field(default_factory=list)
    noisiest: list[tuple[str, int]] = field(default_factory=list)
    drill_acks: list[DrillAck] = field(default_factory=list)
    drill_levels: dict[int | None, AckTimes] = field(default_factory=dict)
    drill_people: dict[str | None, AckTimes] = field(default_factory=dict)


def percentile(values: Iterable[float], p: float) -> float | None:
    """The nearest-rank p-th percentile: the smallest value with at least p% of the values at
    or below it, i.e. the ceil(p/100 × n)-th smallest (1-based). None for no values. Always
    one of the values, never interpolated: "p90 = 12 min" means a real incident took 12 min."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def out_of_hours(at: datetime, zone: tzinfo) -> bool:
    """Whether `at` falls outside Mon–Fri 08:00–18:00 in `zone` (DST as the zone has it)."""
    local = at.astimezone(zone)
    return local.weekday() >= 5 or not (WORK_START <= local.time() < WORK_END)


def figures(
    incidents: Sequence[IncidentRow], pages: Sequence[PageRow], zones: Mapping[str, tzinfo]
) -> Figures:
    """The figures of `incidents` and `pages`; a person not in `zones` is in UTC."""
    acked = [
        (i.acknowledged_at - i.opened_at).total_seconds() for i in incidents if i.acknowledged_at
    ]
    resolved = [(i.resolved_at - i.opened_at).total_seconds() for i in incidents if i.resolved_at]
    escalated = sum(1 for i in incidents if i.escalated)
    late = sum(1 for p in pages if out_of_hours(p.delivered_at, zones.get(p.person, UTC)))
    return Figures(
        incidents=len(incidents),
        acknowledged=len(acked),
        resolved=len(resolved),
        mtta_p50=percentile(acked, 50),
        mtta_p90=percentile(acked, 90),
        mttr_p50=percentile(resolved, 50),
        mttr_p90=percentile(resolved, 90),
        escalated=escalated,
        escalated_share=escalated / len(incidents) if incidents else None,
        pages=len(pages),
        pages_out_of_hours=late,
    )


def report(
    incidents: Sequence[IncidentRow],
    pages: Sequence[PageRow],
    zones: Mapping[str, tzinfo],
    by: str | None = None,
    steps: Sequence[StepRow] = (),
) -> Report:
    """The report of these rows. `by` (GROUPINGS) groups the real figures: category, check,
    site (NONE for none), or person: the incidents a person acknowledged or was paged for,
    with that person's pages (an incident neither acknowledged nor paged to anyone is NONE).
    `steps`: the drills' pages, for the level each drill was acknowledged at (`drill_acks`)."""
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}: use one of {', '.join(GROUPINGS)}")
    drill_ids = {i.id for i in incidents if i.drill}
    real = [i for i in incidents if not i.drill]
    real_pages = [p for p in pages if p.incident_id not in drill_ids]
    drill_pages = [p for p in pages if p.incident_id in drill_ids]
    acks = drill_acks([i for i in incidents if i.drill], steps)
    result = Report(
        real=figures(real, real_pages, zones),
        drills=figures([i for i in incidents if i.drill], drill_pages, zones),
        by=by,
        people=_people(real_pages, zones),
        noisiest=Counter(i.check for i in real).most_common(NOISIEST),
        drill_acks=acks,
        drill_levels=_ack_times(acks, lambda a: a.level),
        drill_people=_ack_times(acks, lambda a: a.by),
    )
    if by is not None:
        result.groups.update(_grouped(real, real_pages, zones, by))
    return result


def drill_acks(drills: Sequence[IncidentRow], steps: Sequence[StepRow]) -> list[DrillAck]:
    """Each acknowledged drill, in the order given: its level is that of the last page enqueued
    at or before the ack (the one its acknowledger was answering), None with no page before."""
    acks = []
    for i in drills:
        if i.acknowledged_at is None:
            continue
        before = [s for s in steps if s.incident_id == i.id and s.paged_at <= i.acknowledged_at]
        # The latest page; at one instant (a level's contacts) the highest level.
        last = max(before, key=lambda s: (s.paged_at, s.level), default=None)
        acks.append(
            DrillAck(
                incident_id=i.id,
                check=i.check,
                by=i.acknowledged_by,
                level=last.level if last else None,
                seconds=(i.acknowledged_at - i.opened_at).total_seconds(),
                after_page=(i.acknowledged_at - last.paged_at).total_seconds() if last else None,
            )
        )
    return acks


def _ack_times(acks: Sequence[DrillAck], key: Callable[[DrillAck], Any]) -> dict[Any, AckTimes]:
    """`acks` grouped by `key` (sorted, None last), with their times to acknowledge."""
    members: dict[Any, list[DrillAck]] = {}
    for a in acks:
        members.setdefault(key(a), []).append(a)
    grouped = {}
    for name in sorted(members, key=lambda n: (n is None, n if n is not None else 0)):
        opened = [a.seconds for a in members[name]]
        paged = [a.after_page for a in members[name] if a.after_page is not None]
        grouped[name] = AckTimes(
            acknowledged=len(opened),
            mtta_p50=percentile(opened, 50),
            mtta_p90=percentile(opened, 90),
            after_page_p50=percentile(paged, 50),
            after_page_p90=percentile(paged, 90),
        )
    return grouped


def _people(pages: Sequence[PageRow], zones: Mapping[str, tzinfo]) -> list[PersonPages]:
    """Pages per person, most paged first (then by name, so the order is stable)."""
    counts = Counter(p.person for p in pages)
    late = Counter(
        p.person for p in pages if out_of_hours(p.delivered_at, zones.get(p.person, UTC))
    )
    ordered = sorted(counts, key=lambda name: (-counts[name], name))
    return [PersonPages(name, counts[name], late[name]) for name in ordered]


def _grouped(
    incidents: Sequence[IncidentRow],
    pages: Sequence[PageRow],
    zones: Mapping[str, tzinfo],
    by: str,
) -> dict[str, Figures]:
    members: dict[str, list[IncidentRow]] = {}
    if by == "person":
        paged: dict[int, set[str]] = {}
        for p in pages:
            paged.setdefault(p.incident_id, set()).add(p.person)
        for i in incidents:
            names = paged.get(i.id, set()) | ({i.acknowledged_by} if i.acknowledged_by else set())
            for name in names or {NONE}:
                members.setdefault(name, []).append(i)
    else:
        for i in incidents:
            members.setdefault(getattr(i, by) or NONE, []).append(i)
    groups = {}
    for name in sorted(members, key=lambda n: (n == NONE, n)):
        ids = {i.id for i in members[name]}
        # By person a group's pages are that person's own; otherwise its incidents' pages.
        mine = [p for p in pages if p.incident_id in ids and (by != "person" or p.person == name)]
        groups[name] = figures(members[name], mine, zones)
    return groups
