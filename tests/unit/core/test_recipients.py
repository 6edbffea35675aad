"""Resolving a policy level's names (core/recipients.py) on a virtual clock: channels, persons,
teams, schedules with their overrides, de-duplication in order, and names that reach nobody."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from escalatord.core.oncall import Layer, Override, Schedule
from escalatord.core.recipients import (
    Contact,
    Kind,
    Nobody,
    PersonEntry,
    Recipients,
    channels_only,
    resolve,
    schedules_named,
)
from escalatord.core.timewindows import local_instant, parse_window

PARIS = ZoneInfo("Europe/Paris")


def person(name: str, *contacts: Contact) -> PersonEntry:
    return PersonEntry(name, name.title(), tuple(contacts))


def mail(name: str, after: timedelta = timedelta(0)) -> Contact:
    return Contact("mail", f"{name}@example.org", after)


@dataclass
class Book:
    """A Directory held in dicts."""

    persons: dict[str, PersonEntry] = field(default_factory=dict)
    teams: dict[str, tuple[str, ...]] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    notifiers: tuple[str, ...] = ("mail", "sms", "ops-slack")

    def kind(self, name: str) -> Kind | None:
        if name in self.persons:
            return "person"
        if name in self.teams:
            return "team"
        if name in self.schedules:
            return "schedule"
        return "notifier" if name in self.notifiers else None

    def person(self, name: str) -> PersonEntry | None:
        return self.persons.get(name)

    def members(self, team: str) -> Sequence[str]:
        return self.teams.get(team, ())

    def schedule(self, name: str) -> Schedule | None:
        return self.schedules.get(name)


def local(*parts: int) -> datetime:
    return local_instant(datetime(*parts), PARIS)


# Weekly turns from Monday 5 January 2026 09:00 Paris: alice, bob, carol.
WEEKLY = Schedule(
    "network-oncall",
    PARIS,
    (Layer(("alice", "bob", "carol"), datetime(2026, 1, 5, 9), timedelta(weeks=1)),),
)
# Only on weekday business hours: nobody at night.
DAYTIME = Schedule(
    "day-desk",
    PARIS,
    (
        Layer(
            ("dave",),
            datetime(2026, 1, 5, 8),
            timedelta(weeks=1),
            (parse_window("mon-fri 08:00-18:00"),),
        ),
    ),
)


def book() -> Book:
    return Book(
        persons={
            "alice": person("alice", mail("alice"), Contact("sms", "+331", timedelta(minutes=5))),
            "bob": person("bob", mail("bob")),
            "carol": person("carol", mail("carol")),
            "dave": person("dave", mail("dave")),
            "erin": person("erin"),  # no contact
        },
        teams={"network": ("alice", "bob", "carol"), "mute": ("erin",)},
        schedules={"network-oncall": WEEKLY, "day-desk": DAYTIME},
    )


def names(found: Recipients) -> list[str]:
    return [p.name for p in found.persons]


def test_notifiers_stay_channels_in_order():
    """Notifier names come out as channels, in order, once each; nobody is missing."""
    found = resolve(["ops-slack", "mail", "ops-slack"], book(), local(2026, 1, 6, 12))
    assert found == Recipients(channels=("ops-slack", "mail"))
    assert not found.empty


def test_a_person_is_paged_with_every_contact_in_order():
    """A person's name pages that person, contacts in config order with their `after`."""
    found = resolve(["alice"], book(), local(2026, 1, 6, 12))
    [alice] = found.persons
    assert alice.full_name == "Alice"
    assert [(c.notifier, c.after) for c in alice.contacts] == [
        ("mail", timedelta(0)),
        ("sms", timedelta(minutes=5)),
    ]


def test_a_team_pages_every_member():
    """A team pages each member with contacts, in the team's order."""
    assert names(resolve(["network"], book(), local(2026, 1, 6, 12))) == ["alice", "bob", "carol"]


def test_a_schedule_pages_whoever_is_on_call_at_that_instant():
    """A schedule is resolved at the instant given: the handoff decides who is paged."""
    assert names(resolve(["network-oncall"], book(), local(2026, 1, 12, 8, 59))) == ["alice"]
    assert names(resolve(["network-oncall"], book(), local(2026, 1, 12, 9, 0))) == ["bob"]


def test_config_and_run_time_overrides_win():
    """The schedule's own overrides and the run-time ones passed in both put their person on
    call; a run-time override for another schedule changes nothing."""
    at = local(2026, 1, 6, 12)
    with_own = Book(
        persons=book().persons,
        schedules={
            "network-oncall": Schedule(
                WEEKLY.name, PARIS, WEEKLY.layers, (Override("carol", at, at + timedelta(hours=1)),)
            )
        },
    )
    assert names(resolve(["network-oncall"], with_own, at)) == ["carol"]
    stored = {"network-oncall": (Override("dave", at - timedelta(hours=1), at + timedelta(1)),)}
    assert names(resolve(["network-oncall"], with_own, at, stored)) == ["dave"]
    other = {"day-desk": stored["network-oncall"]}
    assert names(resolve(["network-oncall"], book(), at, other)) == ["alice"]


def test_persons_are_paged_once_in_the_order_first_named():
    """A person named by a schedule, a team and by name is paged once, where first named;
    channels and persons keep their own order."""
    found = resolve(
        ["network-oncall", "ops-slack", "network", "bob"], book(), local(2026, 1, 13, 12)
    )
    assert found.channels == ("ops-slack",)
    assert names(found) == ["bob", "alice", "carol"]
    assert found.describe() == "ops-slack, bob, alice, carol"


def test_an_empty_schedule_reaches_nobody():
    """A schedule with nobody on call at that hour reaches nobody and says so."""
    found = resolve(["day-desk"], book(), local(2026, 1, 10, 3))  # a Saturday night
    assert found.empty
    assert found.nobody == (Nobody("day-desk", "nobody on call"),)
    assert names(resolve(["day-desk"], book(), local(2026, 1, 9, 10))) == ["dave"]


def test_persons_and_teams_without_contacts_reach_nobody():
    """A person without contacts, or a team none of whose members has one, reaches nobody;
    with a channel beside them the level still reaches someone."""
    found = resolve(["erin", "mute"], book(), local(2026, 1, 6, 12))
    assert found.empty
    assert [n.name for n in found.nobody] == ["erin", "mute"]
    mixed = resolve(["erin", "mail"], book(), local(2026, 1, 6, 12))
    assert not mixed.empty and mixed.channels == ("mail",)
    assert mixed.nobody == (Nobody("erin", "has no contact"),)


def test_unknown_names_are_handed_on_as_channels():
    """A name nothing has (a notifier removed since) is a channel: the dispatcher reports it."""
    assert resolve(["gone"], book(), local(2026, 1, 6, 12)).channels == ("gone",)


def test_without_a_directory_every_name_is_a_channel():
    """channels_only: the notifiers of old, de-duplicated."""
    assert channels_only(["a", "b", "a"]) == Recipients(channels=("a", "b"))


def test_schedules_named_picks_the_schedules():
    """The caller reads run-time overrides of the schedules a level names, only those."""
    assert schedules_named(["mail", "day-desk", "alice", "network-oncall"], book()) == [
        "day-desk",
        "network-oncall",
    ]
