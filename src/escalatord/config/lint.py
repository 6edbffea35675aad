"""`escalatord lint`'s analysis: what in a valid config would fail people at 3 a.m. Pure: the
instant to start from and the stored run-time overrides are passed in; nothing is read or sent.

check-config says whether a config is valid; this says whether it is wise. Each `Finding`
names its file and key path (as check-config's problems do) and says how to mend it:

- uncovered-check: an enabled check that no rule matches in some problem status (no incident
  would open: it fails in silence);
- rule-matches-no-check: a rule no configured check can match (alone, ignoring other rules;
  alerts posted to the API with other labels may still match it);
- shadowed-rule: a rule an earlier one always takes first (core/shadowing.py);
- schedule-gap / level-reaches-nobody: a policy level that reaches nobody at some moment from
  `start` to `start + weeks` (a schedule with nobody on call, persons or teams without
  contacts); the first such moment is given in the schedule's zone;
- person-without-contact: a person no page can reach;
- contact-unconfirmed: a person's contact whose test message (`escalatord test-contacts`) was
  never confirmed, judged only when `confirmed` is given (read from the database; without one
  nothing is known and no contact is reported);
- urgent-rule-incomplete: a rule of a priority 1-2 category without owner, runbook or steps;
- unused-person, unused-team, unused-schedule, unused-notifier, unused-policy,
  unused-category: names defined and never referenced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from escalatord.core.oncall import Override, rota
from escalatord.core.recipients import resolve
from escalatord.core.rules import match, matches
from escalatord.core.shadowing import shadowed
from escalatord.core.status import Status
from escalatord.escalation.recipients import ConfigDirectory

if TYPE_CHECKING:
    from escalatord.config.model import Config

PROBLEMS = (Status.WARNING, Status.CRITICAL, Status.UNKNOWN)
# The order findings are printed in: what fails people first, tidiness last.
KINDS = (
    "uncovered-check",
    "schedule-gap",
    "level-reaches-nobody",
    "person-without-contact",
    "contact-unconfirmed",
    "urgent-rule-incomplete",
    "shadowed-rule",
    "rule-matches-no-check",
    "unused-policy",
    "unused-schedule",
    "unused-team",
    "unused-person",
    "unused-notifier",
    "unused-category",
)
# Categories this urgent (1 = most urgent) must tell whoever is paged what to do.
URGENT_PRIORITY = 2


@dataclass(frozen=True)
class Finding:
    """One thing to mend: its kind (KINDS), the file and key path it is at, and what to do."""

    kind: str
    file: str
    key: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


# (kind, name) -> the file the item was read from ("rule" items by index, see `lint`).
Files = Mapping[tuple[str, str], str]
# (person, notifier, address) -> when that contact was last confirmed.
Confirmed = Mapping[tuple[str, str, str], datetime]


def lint(
    config: Config,
    start: datetime,
    weeks: int = 4,
    overrides: Mapping[str, Sequence[Override]] | None = None,
    files: Files | None = None,
    confirmed: Confirmed | None = None,
) -> list[Finding]:
    """Every finding of `config`, in the order of KINDS then config order.

    `start` (aware) begins the span of `weeks` scanned for levels that reach nobody;
    `overrides` are each schedule's stored run-time overrides, in the order added; `files`
    names the file of each item (default: `config.source`; rules use `config.rule_files`);
    `confirmed` says when each confirmed contact was (None: unknown, contacts not judged).
    """
    where = _Where(config, files or {})
    found = [
        *_uncovered(config, where),
        *_levels(config, where, start, start + timedelta(weeks=weeks), overrides or {}),
        *_no_contact(config, where),
        *(_unconfirmed(config, where, confirmed) if confirmed is not None else ()),
        *_urgent(config, where),
        *_shadowed(config, where),
        *_rules_unused(config, where),
        *_unused(config, where),
    ]
    return sorted(found, key=lambda f: KINDS.index(f.kind))  # stable: config order kept


class _Where:
    def __init__(self, config: Config, files: Files):
        self.config, self.files = config, files

    def __call__(self, kind: str, name: str) -> str:
        return self.files.get((kind, name), self.config.source)

    def rule(self, index: int) -> str:
        files = self.config.rule_files
        return files[index] if index < len(files) else self.config.source


def _uncovered(config: Config, where: _Where) -> list[Finding]:
    found = []
    for check in config.checks:
        if not check.enabled:
            continue
        missing = [
            str(s) for s in PROBLEMS if match(config.rules, check.labels, check.name, s) is None
        ]
        if missing:
            found.append(
                Finding(
                    "uncovered-check",
                    where("check", check.name),
                    f"check[{check.name}]",
                    f"no rule matches check {check.name!r} when it is {' or '.join(missing)}: "
                    "it would fail in silence, no incident opened and nobody paged; add a "
                    "[[rule]] that matches it (or a catch-all rule without matchers)",
                )
            )
    return found


def _shadowed(config: Config, where: _Where) -> list[Finding]:
    rules = config.rules
    return [
        Finding(
            "shadowed-rule",
            where.rule(s.rule),
            f"rule[{rules[s.rule].name}]",
            f"rule {rules[s.rule].name!r} can never match: rule {rules[s.by].name!r} "
            f"({where.rule(s.by)}) is tried before it without `continue` and takes all it "
            f"would; narrow {rules[s.by].name!r}, move {rules[s.rule].name!r} above it, or "
            f"set `continue = true` on {rules[s.by].name!r}",
        )
        for s in shadowed(rules)
    ]


def _rules_unused(config: Config, where: _Where) -> list[Finding]:
    found = []
    for index, rule in enumerate(config.rules):
        if any(
            matches(rule, check.labels, check.name, status)
            for check in config.checks
            for status in PROBLEMS
        ):
            continue
        found.append(
            Finding(
                "rule-matches-no-check",
                where.rule(index),
                f"rule[{rule.name}]",
                f"rule {rule.name!r} matches no configured check in any problem status (only "
                "an alert posted to the API could match it): fix its match/match_re/status to "
                "the labels your checks carry, or remove it",
            )
        )
    return found


def _levels(
    config: Config,
    where: _Where,
    start: datetime,
    end: datetime,
    overrides: Mapping[str, Sequence[Override]],
) -> list[Finding]:
    directory = ConfigDirectory(config)
    found = []
    for policy in config.policies:
        for number, level in enumerate(policy.levels):
            gap = _first_gap(level.notify, directory, start, end, overrides)
            if gap is None:
                continue
            at, until, reasons = gap
            schedules = [n for n in level.notify if directory.kind(n) == "schedule"]
            zone = config.schedule_by_name[schedules[0]].zone if schedules else UTC
            when = (
                f"from {_shown(at, zone)} until {_shown(until, zone)}"
                if until is not None
                else f"at any moment from {_shown(at, zone)}"
            )
            found.append(
                Finding(
                    "schedule-gap" if schedules else "level-reaches-nobody",
                    where("policy", policy.name),
                    f"policy[{policy.name}].level[{number}].notify",
                    f"level {number} of policy {policy.name!r} reaches nobody {when} "
                    f"({'; '.join(reasons)}): fill the gap with a layer or an override, give "
                    "the persons a [[person.contact]], or add a channel or a backup to notify",
                )
            )
    return found


def _first_gap(
    names: Sequence[str],
    directory: ConfigDirectory,
    start: datetime,
    end: datetime,
    overrides: Mapping[str, Sequence[Override]],
) -> tuple[datetime, datetime | None, list[str]] | None:
    """The first stretch of [start, end) in which `names` reach nobody: its start, its end
    (None: it lasts to `end`) and why each name reaches nobody; None when there is none."""
    # Who a level reaches changes only where one of its schedules' rotas does.
    instants = {start}
    for name in names:
        schedule = directory.schedule(name) if directory.kind(name) == "schedule" else None
        if schedule is not None:
            for segment in rota(schedule, start, end, overrides.get(name, ())):
                instants.add(segment.start)
    ordered = sorted(instants)
    for index, at in enumerate(ordered):
        reached = resolve(names, directory, at, overrides)
        if not reached.empty:
            continue
        until = next(
            (t for t in ordered[index + 1 :] if not resolve(names, directory, t, overrides).empty),
            None,
        )
        return at, until, [f"{n.name}: {n.why}" for n in reached.nobody]
    return None


def _no_contact(config: Config, where: _Where) -> list[Finding]:
    return [
        Finding(
            "person-without-contact",
            where("person", person.name),
            f"person[{person.name}].contact",
            f"person {person.name!r} has no contact: no page can reach them; add a "
            '[[person.contact]] with notifier = "…" and to = "…"',
        )
        for person in config.persons
        if not person.contacts
    ]


def _unconfirmed(config: Config, where: _Where, confirmed: Confirmed) -> list[Finding]:
    return [
        Finding(
            "contact-unconfirmed",
            where("person", person.name),
            f"person[{person.name}].contact[{number}]",
            f"person {person.name!r} contact {number} ({contact.notifier} → {contact.to}) "
            f"never confirmed: run escalatord test-contacts --person {person.name}, and have "
            "them follow the link in the test message",
        )
        for person in config.persons
        for number, contact in enumerate(person.contacts)
        if (person.name, contact.notifier, contact.to) not in confirmed
    ]


def _urgent(config: Config, where: _Where) -> list[Finding]:
    """Rules of a priority 1-2 category that leave the person paged at 3 a.m. without an
    owner, a runbook or action steps (each rule on its own: `continue` merging may fill them
    from another rule, but then that rule should say so too)."""
    priority = {c.name: c.priority for c in config.categories}
    found = []
    for index, rule in enumerate(config.rules):
        level = priority.get(rule.category or "")
        if level is None or level > URGENT_PRIORITY:
            continue
        missing = [k for k in ("owner", "runbook", "steps") if not getattr(rule, k)]
        if missing:
            found.append(
                Finding(
                    "urgent-rule-incomplete",
                    where.rule(index),
                    f"rule[{rule.name}]",
                    f"rule {rule.name!r} pages for category {rule.category!r} (priority "
                    f"{level}) without {', '.join(missing)}: give it "
                    + ", ".join(f"`{k}`" for k in missing)
                    + " so whoever is paged knows who owns it and what to do",
                )
            )
    return found


def _unused(config: Config, where: _Where) -> list[Finding]:
    named = {name for policy in config.policies for lvl in policy.levels for name in lvl.notify}
    policies = {rule.policy for rule in config.rules if rule.policy}
    in_people = {m for team in config.teams for m in team.members}
    for schedule in config.schedules:
        in_people.update(m for layer in schedule.layers for m in layer.members)
        in_people.update(o.person for o in schedule.overrides)
    channels = {c.notifier for person in config.persons for c in person.contacts}
    channels.update(f for n in config.notifiers if (f := getattr(n, "fallback", None)))
    found = []

    def unused(kind: str, names: Sequence[str], used: set[str], how: str) -> None:
        found.extend(
            Finding(
                f"unused-{kind}",
                where(kind, name),
                f"{kind}[{name}]",
                f"{kind} {name!r} is defined but never used: {how}, or remove it",
            )
            for name in names
            if name not in used
        )

    unused("policy", [p.name for p in config.policies], policies, "name it in a rule's policy")
    unused("schedule", [s.name for s in config.schedules], named, "name it in a level's notify")
    unused("team", [t.name for t in config.teams], named, "name it in a level's notify")
    unused(
        "person",
        [p.name for p in config.persons],
        named | in_people,
        "name them in a team, a schedule's layer or a level's notify",
    )
    unused(
        "notifier",
        [n.name for n in config.notifiers],
        named | channels,
        "name it in a level's notify, a person's contact or another notifier's fallback",
    )
    categories = {rule.category for rule in config.rules if rule.category}
    unused("category", [c.name for c in config.categories], categories, "name it in a rule")
    return found


def _shown(at: datetime, zone: tzinfo) -> str:
    return at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")
