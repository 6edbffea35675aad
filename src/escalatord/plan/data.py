"""The escalation plan as data: `assemble(config, start, weeks, overrides)` → `Plan`.

Pure: the instant and the stored run-time overrides are passed in, nothing is read or printed
here, so the plan of a config at a given moment can be tested without a database or a clock.
plan/render.py renders a `Plan` with the Jinja2 templates in plan/templates/, for `escalatord
plan` (commands/plan.py) and the console's /plan (console/plan.py).

What is in it: per [[category]] (by priority, then name; checks whose rule sets no category
last, under "(no category)") and per site (labels.site, "(no site)" without one), every enabled
check some rule would open an incident for, with its thresholds in words (plan/words.py), the
matched rule's severity, owner, runbook, steps and the ladder of its policy; the rota of every
schedule for the next weeks; each person's contact paths; and the dependency map.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from escalatord.core.durations import format_duration
from escalatord.core.oncall import Override, Segment, rota
from escalatord.core.rules import match
from escalatord.core.status import Status
from escalatord.plan.words import thresholds

if TYPE_CHECKING:
    from escalatord.config.model import Config, PolicyConfig

NO_CATEGORY = "(no category)"
NO_SITE = "(no site)"
# A check counts when a rule opens an incident for it in any of these (critical first: that is
# the status whose decision people most need to read).
_PROBLEMS = (Status.CRITICAL, Status.WARNING, Status.UNKNOWN)


@dataclass(frozen=True)
class Shift:
    """Who is on call from `start` until `end`, in the schedule's zone (`persons` may be ())."""

    start: datetime
    end: datetime
    persons: tuple[str, ...]


@dataclass(frozen=True)
class Target:
    """One name of a level's `notify`: what it is and whom it reaches."""

    name: str
    kind: str  # person, team, schedule, notifier, or "unknown"
    members: tuple[str, ...] = ()  # a team's members
    shifts: tuple[Shift, ...] = ()  # a schedule's rota over the plan's weeks

    def describe(self) -> str:
        """ "network-oncall (alice until Mon 09:00, then bob)", "team network (alice, bob)"."""
        if self.kind == "team":
            return f"team {self.name} ({', '.join(self.members)})"
        if self.kind == "schedule":
            # Who is on now and who comes next: the full rota is the plan's own table.
            if not self.shifts:
                return self.name
            now = self.shifts[0]
            text = f"{self.name} ({', '.join(now.persons) or 'nobody'}"
            if len(self.shifts) > 1:
                after = ", ".join(self.shifts[1].persons) or "nobody"
                text += f" until {now.end:%a %H:%M}, then {after}"
            return text + ")"
        return self.name


@dataclass(frozen=True)
class Step:
    """One level of a ladder: `when` ("at once", "after 15m") and its targets."""

    when: str
    targets: tuple[Target, ...]

    def describe(self) -> str:
        return f"{self.when}: {' and '.join(t.describe() for t in self.targets)}"


@dataclass(frozen=True)
class Ladder:
    """A policy's levels and what happens after the last one."""

    policy: str
    steps: tuple[Step, ...]
    repeat: str = ""  # "repeated 2 times every 1h", or ""
    ack_timeout: str = ""  # "an ack older than 30m re-triggers", or ""


@dataclass(frozen=True)
class Entry:
    """One check that can cause an escalation event, and what its rule decided."""

    check: str
    type: str
    description: str
    thresholds: str
    rules: tuple[str, ...]
    severity: str
    owner: str
    runbook: str
    steps: tuple[str, ...]
    ladder: Ladder | None


@dataclass
class Section:
    """A category (or NO_CATEGORY) and its entries by site, sites in name order."""

    name: str
    priority: int | None
    description: str
    sites: dict[str, list[Entry]] = field(default_factory=dict)


@dataclass(frozen=True)
class ContactPath:
    """One way to reach a person: tried `after` (0: at once) through `notifier` to `to`."""

    notifier: str
    to: str
    after: str


@dataclass(frozen=True)
class Dependant:
    """A check that hangs on a parent; `redundant`: via depends_on_any (down only when all
    its parents are)."""

    check: str
    site: str
    redundant: bool


@dataclass(frozen=True)
class Plan:
    """The whole plan (module docstring)."""

    source: str
    start: datetime
    end: datetime
    weeks: int
    sections: list[Section]
    schedules: dict[str, tuple[str, tuple[Shift, ...]]]  # name → (zone, rota)
    people: dict[str, tuple[str, tuple[ContactPath, ...]]]  # name → (display name, contacts)
    dependencies: dict[str, dict[str, tuple[Dependant, ...]]]  # site → parent → dependants
    silent: tuple[str, ...]  # enabled checks no rule opens an incident for


def when(after: timedelta) -> str:
    """ "at once" for 0, else "after 15m"."""
    return "at once" if after <= timedelta(0) else f"after {format_duration(after)}"


def _shifts(segments: Sequence[Segment], zone: object) -> tuple[Shift, ...]:
    return tuple(
        Shift(s.start.astimezone(zone), s.end.astimezone(zone), s.persons)  # type: ignore[arg-type]
        for s in segments
    )


def _rotas(
    config: Config, start: datetime, end: datetime, overrides: Mapping[str, Sequence[Override]]
) -> dict[str, tuple[str, tuple[Shift, ...]]]:
    return {
        s.name: (
            s.timezone,
            _shifts(rota(s.rota(), start, end, tuple(overrides.get(s.name, ()))), s.zone),
        )
        for s in config.schedules
    }


def _ladder(
    config: Config, policy: PolicyConfig, rotas: Mapping[str, tuple[str, tuple[Shift, ...]]]
) -> Ladder:
    steps = []
    for level in policy.levels:
        targets = []
        for name in level.notify:
            kind = config.target_kind(name) or "unknown"
            members = config.team_by_name[name].members if kind == "team" else ()
            shifts = rotas[name][1] if kind == "schedule" else ()
            targets.append(Target(name, kind, tuple(members), shifts))
        steps.append(Step(when(level.after), tuple(targets)))
    repeat = ""
    if policy.repeat and policy.repeat_every is not None:
        times = "once" if policy.repeat == 1 else f"{policy.repeat} times"
        repeat = f"the ladder repeats {times}, every {format_duration(policy.repeat_every)}"
    ack = ""
    if policy.ack_timeout is not None:
        ack = (
            f"an acknowledgement older than {format_duration(policy.ack_timeout)} with the "
            "incident still open starts the ladder again"
        )
    return Ladder(policy.name, tuple(steps), repeat, ack)


def _dependencies(config: Config) -> dict[str, dict[str, tuple[Dependant, ...]]]:
    """site of the parent → parent → the checks that hang on it (sites and parents sorted)."""
    site = {c.name: c.labels.get("site", NO_SITE) for c in config.checks}
    found: dict[str, dict[str, list[Dependant]]] = {}
    for c in config.checks:
        for parents, redundant in ((c.depends_on, False), (c.depends_on_any, True)):
            for parent in parents:
                where = site.get(parent, NO_SITE)
                found.setdefault(where, {}).setdefault(parent, []).append(
                    Dependant(c.name, site[c.name], redundant)
                )
    return {s: {p: tuple(found[s][p]) for p in sorted(found[s])} for s in sorted(found)}


def assemble(
    config: Config,
    start: datetime,
    weeks: int,
    overrides: Mapping[str, Sequence[Override]] | None = None,
) -> Plan:
    """The plan of `config` from `start` (aware) for `weeks` weeks; `overrides` are the stored
    run-time overrides of each schedule (core/oncall.py gives the last one added precedence)."""
    end = start + timedelta(weeks=weeks)
    rotas = _rotas(config, start, end, overrides or {})
    ladders = {p.name: _ladder(config, p, rotas) for p in config.policies}
    categories = {c.name: c for c in config.categories}
    sections = {
        c.name: Section(c.name, c.priority, c.description)
        for c in sorted(config.categories, key=lambda c: (c.priority, c.name))
    }
    silent = []
    for check in config.checks:
        if not check.enabled:
            continue
        decision = None
        for status in _PROBLEMS:
            if (decision := match(config.rules, check.labels, check.name, status)) is not None:
                break
        if decision is None:
            silent.append(check.name)
            continue
        name = decision.category if decision.category in categories else NO_CATEGORY
        section = sections.get(name)
        if section is None:
            section = sections[name] = Section(NO_CATEGORY, None, "")
        section.sites.setdefault(check.labels.get("site", NO_SITE), []).append(
            Entry(
                check=check.name,
                type=check.type,
                description=check.description,
                thresholds=thresholds(check),
                rules=decision.rules,
                severity=decision.severity,
                owner=decision.owner,
                runbook=decision.runbook,
                steps=decision.steps,
                ladder=ladders.get(decision.policy) if decision.policy else None,
            )
        )
    for section in sections.values():
        section.sites = {s: section.sites[s] for s in sorted(section.sites)}
    people = {
        p.name: (
            p.display_name,
            tuple(ContactPath(c.notifier, c.to, when(c.after)) for c in p.contacts),
        )
        for p in config.persons
    }
    return Plan(
        source=config.source,
        start=start,
        end=end,
        weeks=weeks,
        sections=list(sections.values()),  # a category no check reaches is shown, empty
        schedules=rotas,
        people=people,
        dependencies=_dependencies(config),
        silent=tuple(silent),
    )
