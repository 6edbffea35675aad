"""Quiet times: maintenance windows (config) and silences (run time). Pure.

A check is *quiet* at an instant when a window in force or a silence in force covers it. A
quiet check still runs and keeps its state, but no incident opens for it and its open
incident pages no further level until the quiet time ends (escalation/quiet.py).

Who is covered: `match` / `match_re` are label matchers read exactly as a rule's are
(core/rules.py, the label "check" being the check's name), `checks` names checks; a cover
with several of them covers a check that any one of them covers. A window with
`children = true` also covers every dependant, transitively, of a check it covers
(depends_on and depends_on_any alike, core/topology.py's graph).

When: a one-off window is in force from `start` (included) until `end` (excluded). A
recurring window starts at each instant its cron `schedule` names in its time zone (cronsim:
a start skipped by spring-forward happens at the first minute after the jump, a start in the
autumn's repeated hour happens once) and lasts `duration` of elapsed time, so a "4h" window
across a DST change still lasts four hours. Occurrences that overlap or touch make one quiet
time: `until` is when the last of them ends.

Nothing here reads a clock or the store: windows, silences and the instant are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from cronsim import CronSim

from escalatord.core import rules
from escalatord.core.status import Status
from escalatord.core.topology import Graph

_MAX_STEPS = 1000  # occurrences looked at per question: a window every minute for 16 hours


@dataclass(frozen=True)
class Cover:
    """Which checks a window or silence covers (module docstring)."""

    match: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    match_re: Mapping[str, str] = field(default_factory=dict)
    checks: tuple[str, ...] = ()

    # What core/rules.matches reads of a rule besides the matchers: any problem status.
    status = (Status.CRITICAL,)

    def covers(self, check: str, labels: Mapping[str, str]) -> bool:
        """Whether this cover names `check` or its labels match."""
        if check in self.checks:
            return True
        if not (self.match or self.match_re):
            return False
        return rules.matches(self, labels, check, Status.CRITICAL)  # type: ignore[arg-type]

    def describe(self) -> str:
        parts = [f"{k}={v if isinstance(v, str) else '|'.join(v)}" for k, v in self.match.items()]
        parts += [f"{k}~{v}" for k, v in self.match_re.items()]
        parts += [f"check={name}" for name in self.checks]
        return ", ".join(parts)


@dataclass(frozen=True)
class Window:
    """A `[[maintenance]]` window: one-off (`start`, `end`, UTC) or recurring (`schedule`,
    cron in `zone`, each occurrence lasting `duration`)."""

    name: str
    cover: Cover
    zone: tzinfo = UTC
    start: datetime | None = None
    end: datetime | None = None
    schedule: str | None = None
    duration: timedelta = timedelta(0)
    children: bool = False

    def starts(self, after: datetime, *, reverse: bool = False) -> Iterator[datetime]:
        """Occurrence starts (UTC) after `after` (or at/before it, newest first, `reverse`)."""
        if self.schedule is None:
            if self.start is not None and (self.start <= after if reverse else self.start > after):
                yield self.start
            return
        # cronsim steps from its start exclusively; a second later makes `after` itself count
        # when reversing (the start of an occurrence is inside it).
        ref = (after + timedelta(seconds=1) if reverse else after).astimezone(self.zone)
        for local in CronSim(self.schedule, ref, reverse=reverse):
            yield local.astimezone(UTC)

    def length(self) -> timedelta:
        if self.schedule is None:
            assert self.start is not None and self.end is not None
            return self.end - self.start
        return self.duration

    def until(self, at: datetime) -> datetime | None:
        """When the quiet time holding `at` ends, or None when the window is not in force."""
        length = self.length()
        end: datetime | None = None
        for n, begun in enumerate(self.starts(at, reverse=True)):
            if begun + length <= at or n >= _MAX_STEPS:
                break  # older starts end earlier still
            end = max(end or begun + length, begun + length)
        if end is None:
            return None
        for n, later in enumerate(self.starts(at)):  # occurrences that overlap or touch
            if later > end or n >= _MAX_STEPS:
                break
            end = max(end, later + length)
        return end

    def edges(self, after: datetime, before: datetime) -> list[tuple[datetime, str]]:
        """The ("start" | "end") instants of occurrences in (after, before], in order."""
        found: list[tuple[datetime, str]] = []
        length = self.length()
        ongoing = self.until(after)
        if ongoing is not None and ongoing <= before:
            found.append((ongoing, "end"))
        for n, begun in enumerate(self.starts(after)):
            if begun > before or n >= _MAX_STEPS:
                break
            found += [(begun, "start")] + (
                [(begun + length, "end")] if begun + length <= before else []
            )
        return sorted(set(found))


@dataclass(frozen=True)
class Silence:
    """A run-time silence: `cover` is quiet from `start` until `end` (UTC)."""

    id: int
    cover: Cover
    start: datetime
    end: datetime
    reason: str = ""
    created_by: str = ""

    def in_force(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class Quiet:
    """Why a check is quiet (`why`: "maintenance NAME", "silence N") and until when."""

    why: tuple[str, ...]
    until: datetime

    def describe(self) -> str:
        return f"{', '.join(self.why)} until {self.until.isoformat()}"

    def to_json(self) -> dict[str, object]:
        return {"why": list(self.why), "until": self.until.isoformat()}


@dataclass(frozen=True)
class QuietTimes:
    """Windows and silences with the dependency graph and every check's labels (for a
    window's `children`): `of(check, labels, at)` answers for one check."""

    windows: Sequence[Window] = ()
    silences: Sequence[Silence] = ()
    graph: Graph = field(default_factory=Graph)
    labels_of: Callable[[str], Mapping[str, str] | None] = lambda name: None
    # (window index, instant) -> window.until(instant): a recurring window's end walks its
    # cron, and `of` is asked for every configured check at one instant (/metrics, release).
    _ends: dict[tuple[int, datetime], datetime | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    def of(self, check: str, labels: Mapping[str, str], at: datetime) -> Quiet | None:
        """Whether `check` (with `labels`) is quiet at `at`: why and until when; None if not."""
        why: list[str] = []
        until: datetime | None = None
        for index, window in enumerate(self.windows):
            end = self._window_end(index, window, at)
            if end is None or not self.window_covers(window, check, labels):
                continue
            why.append(f"maintenance {window.name}")
            until = max(until or end, end)
        for silence in self.silences:
            if silence.in_force(at) and silence.cover.covers(check, labels):
                why.append(f"silence {silence.id}")
                until = max(until or silence.end, silence.end)
        return Quiet(tuple(why), until) if until is not None else None

    def _window_end(self, index: int, window: Window, at: datetime) -> datetime | None:
        key = (index, at)
        if key not in self._ends:
            if len(self._ends) > 256:  # a long-lived instance asked at many instants
                self._ends.clear()
            self._ends[key] = window.until(at)
        return self._ends[key]

    def window_covers(self, window: Window, check: str, labels: Mapping[str, str]) -> bool:
        """Whether `window` covers `check` (with `labels`), its `children` included."""
        if window.cover.covers(check, labels):
            return True
        return window.children and any(
            window.cover.covers(name, self.labels_of(name) or {})
            for name in ancestors(self.graph, check)
        )

    def edges(self, after: datetime, before: datetime) -> list[tuple[datetime, str, str]]:
        """(instant, "start" | "end", "maintenance NAME" | "silence N") of every window and
        silence edge in (after, before], in order: when quiet times begin and end."""
        found = [
            (t, edge, f"maintenance {w.name}")
            for w in self.windows
            for t, edge in w.edges(after, before)
        ]
        for s in self.silences:
            found += [
                (t, edge, f"silence {s.id}")
                for t, edge in ((s.start, "start"), (s.end, "end"))
                if after < t <= before
            ]
        return sorted(found)


def ancestors(graph: Graph, check: str) -> list[str]:
    """Every check `check` depends on, directly or through others (breadth first)."""
    seen: dict[str, None] = {}
    queue = list(graph.parents(check))
    while queue:
        name = queue.pop(0)
        if name in seen or name == check:
            continue
        seen[name] = None
        queue += graph.parents(name)
    return list(seen)
