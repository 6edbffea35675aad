"""Who a policy level pages: the names in its `notify` resolved at the instant it fires. Pure.

A name is a notifier (a channel, paged as it always was), a person (paged at each of their
contacts in order), a team (every member) or a schedule (whoever is on call at that instant,
with the schedule's own overrides and the run-time ones passed in). Resolution happens when the
level fires, never when the incident opens, so a rota handoff or an override made since is
followed. Channels and persons come out de-duplicated, in the order they were first named.

A name resolves to nobody when it reaches no contact: a schedule with nobody on call at that
hour, a person without contacts, a team none of whose members has one. A name the directory
does not know is handed on as a channel: the dispatcher then fails it loudly ("notifier … is
not configured") and the ladder moves on, as it always has for a notifier removed from config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from escalatord.core.oncall import Override, Schedule, on_call

Kind = Literal["person", "team", "schedule", "notifier"]


@dataclass(frozen=True)
class Contact:
    """One way to reach a person: a notifier, the person's address for it (`to`), and how
    long after the person was paged it is tried."""

    notifier: str
    to: str
    after: timedelta = timedelta(0)


@dataclass(frozen=True)
class PersonEntry:
    """A person as the directory knows them; contacts in the order they are tried."""

    name: str
    full_name: str | None = None
    contacts: tuple[Contact, ...] = ()


class Directory(Protocol):
    """What resolution reads of the config (escalation/recipients.py builds it from Config)."""

    def kind(self, name: str) -> Kind | None:
        """What `name` is, or None when nothing has that name."""
        ...

    def person(self, name: str) -> PersonEntry | None: ...

    def members(self, team: str) -> Sequence[str]: ...

    def schedule(self, name: str) -> Schedule | None: ...


@dataclass(frozen=True)
class Nobody:
    """A name of the level that reached no contact, and why (shown on the timeline)."""

    name: str
    why: str


@dataclass(frozen=True)
class Recipients:
    """What one level pages: `channels` (notifier names), `persons` (each with contacts),
    and the names that resolved to nobody."""

    channels: tuple[str, ...] = ()
    persons: tuple[PersonEntry, ...] = ()
    nobody: tuple[Nobody, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether the level reaches nobody at all (it then escalates at once)."""
        return not self.channels and not self.persons

    def describe(self) -> str:
        """What the timeline says was notified: channels and persons, in order."""
        return ", ".join((*self.channels, *(p.name for p in self.persons)))


def channels_only(names: Sequence[str]) -> Recipients:
    """Every name as a channel: resolution without a directory (the notifiers of old)."""
    return Recipients(channels=tuple(dict.fromkeys(names)))


def resolve(
    names: Sequence[str],
    directory: Directory,
    at: datetime,
    overrides: Mapping[str, Sequence[Override]] | None = None,
) -> Recipients:
    """Resolve a level's `names` at the instant `at` (aware). `overrides`: the run-time
    overrides of each schedule, in the order they were added (core/oncall.py)."""
    channels: dict[str, None] = {}
    persons: dict[str, PersonEntry] = {}
    nobody: list[Nobody] = []

    def add_persons(name: str, members: Sequence[str], none: str) -> None:
        reached = False
        for member in members:
            entry = directory.person(member)
            if entry is not None and entry.contacts:
                persons.setdefault(member, entry)
                reached = True
        if not reached:
            nobody.append(Nobody(name, none))

    for name in names:
        kind = directory.kind(name)
        if kind == "person":
            add_persons(name, (name,), "has no contact")
        elif kind == "team":
            add_persons(name, directory.members(name), "no member has a contact")
        elif kind == "schedule":
            schedule = directory.schedule(name)
            found = on_call(schedule, at, (overrides or {}).get(name, ())) if schedule else ()
            if found:
                add_persons(name, found, f"{', '.join(found)} on call, without a contact")
            else:
                nobody.append(Nobody(name, "nobody on call"))
        else:  # a notifier, or unknown: see the module docstring
            channels.setdefault(name, None)
    return Recipients(tuple(channels), tuple(persons.values()), tuple(nobody))


def schedules_named(names: Sequence[str], directory: Directory) -> list[str]:
    """The schedules among `names` (whose run-time overrides the caller reads)."""
    return [name for name in names if directory.kind(name) == "schedule"]
