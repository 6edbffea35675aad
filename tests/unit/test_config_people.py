"""check-config on [[person]], [[team]] and [[schedule]]: each mistake reported at its key with
the fix, and a good config resolved by the pure on-call core.

Notifier types are registered here: `fakehook` can address one person, `fakechannel` cannot.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from escalatord import plugins
from escalatord.config.loader import load_text
from escalatord.core.oncall import on_call
from escalatord.errors import ConfigError
from escalatord.notify.base import Notifier, NotifierConfig
from tests.support.config_files import toml


class FakeHook(Notifier):
    Config = NotifierConfig
    addresses_person = True


class FakeChannel(Notifier):
    Config = NotifierConfig


@pytest.fixture(autouse=True)
def fake_types(monkeypatch):
    monkeypatch.setattr(
        plugins,
        "BUILTIN_NOTIFIERS",
        {"fakehook": f"{__name__}:FakeHook", "fakechannel": f"{__name__}:FakeChannel"},
    )
    plugins.load.cache_clear()
    yield
    plugins.load.cache_clear()


GOOD = """
[[notifier]]
name = "mail"
type = "fakehook"

[[notifier]]
name = "ops-channel"
type = "fakechannel"

[[person]]
name = "alice"
full_name = "Alice Moreau"
timezone = "Europe/Paris"
  [[person.contact]]
  notifier = "mail"
  to = "alice@example.org"
  [[person.contact]]
  notifier = "mail"
  to = "alice@home.example.org"
  after = "5m"

[[person]]
name = "bob"

[[person]]
name = "erin"

[[team]]
name = "network"
members = ["alice", "bob"]

[[schedule]]
name = "network-oncall"
timezone = "Europe/Paris"
  [[schedule.layer]]
  members = ["alice", "bob"]
  start = "2026-01-05 09:00"
  rotation = "1w"
  [[schedule.layer]]
  members = ["bob"]
  start = 2026-01-05T08:00:00
  rotation = "1w"
  restrict = ["mon-fri 08:00-18:00"]
  [[schedule.override]]
  person = "erin"
  from = "2026-12-24 18:00"
  until = "2026-12-27 09:00"

[[policy]]
name = "network"
  [[policy.level]]
  after = "0m"
  notify = ["network-oncall"]
  [[policy.level]]
  after = "15m"
  notify = ["network", "alice", "ops-channel"]
"""


def problems(text: str) -> dict[str, str]:
    """Load `text`; {key path: message} of every problem reported."""
    with pytest.raises(ConfigError) as caught:
        load_text(toml(text), env={})
    return {p.path: p.message for p in caught.value.problems}


def changed(old: str, new: str) -> dict[str, str]:
    """The problems of GOOD with `old` replaced by `new` (once)."""
    assert old in GOOD
    return problems(GOOD.replace(old, new, 1))


def test_a_good_config_loads_people_teams_and_schedules():
    """Persons with ordered contacts, a team and a schedule load; levels may name all four."""
    config = load_text(toml(GOOD), env={})
    alice = config.person_by_name["alice"]
    assert [(c.to, c.after) for c in alice.contacts] == [
        ("alice@example.org", timedelta(0)),
        ("alice@home.example.org", timedelta(minutes=5)),
    ]
    assert config.team_by_name["network"].members == ("alice", "bob")
    assert [config.target_kind(n) for n in ("alice", "network", "network-oncall", "mail", "x")] == [
        "person",
        "team",
        "schedule",
        "notifier",
        None,
    ]


def test_check_config_counts_persons_teams_and_schedules():
    """The summary check-config prints counts persons, teams and schedules where there are."""
    config = load_text(toml(GOOD), env={})
    counts = f"{len(config.persons)} persons, 1 teams, 1 schedules"
    assert config.summary().endswith(counts) and len(config.persons) > 1


def test_a_schedule_resolves_through_the_pure_core():
    """A config schedule's layers, restrictions and override resolve in its own zone."""
    schedule = load_text(toml(GOOD), env={}).schedule_by_name["network-oncall"].rota()
    monday_night = datetime(2026, 1, 5, 20, tzinfo=UTC)  # 21:00 in Paris
    assert on_call(schedule, monday_night) == ("alice",)
    assert on_call(schedule, datetime(2026, 1, 6, 12, tzinfo=UTC)) == ("bob",)
    assert on_call(schedule, datetime(2026, 12, 24, 17, tzinfo=UTC)) == ("erin",)  # 18:00 CET
    assert on_call(schedule, datetime(2026, 12, 24, 16, 59, tzinfo=UTC)) != ("erin",)


# ---- what one section shows alone -----------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (
            'timezone = "Europe/Paris"\n  [[person.contact]]',
            'timezone = "Europe/Pariss"\n  [[person.contact]]',
            "person[alice].timezone",
            "unknown time zone 'Europe/Pariss': write an IANA zone name such as",
        ),
        (
            'timezone = "Europe/Paris"\n  [[schedule.layer]]',
            'timezone = "CEST+2"\n  [[schedule.layer]]',
            "schedule[network-oncall].timezone",
            "unknown time zone 'CEST+2'",
        ),
        (
            '"mon-fri 08:00-18:00"',
            '"mon-fry 08:00-18:00"',
            "schedule[network-oncall].layer[1].restrict",
            "restrict window 'mon-fry 08:00-18:00': unknown weekday 'fry'; write mon, tue",
        ),
        (
            '"mon-fri 08:00-18:00"',
            '"weekdays 8am to 6pm"',
            "schedule[network-oncall].layer[1].restrict",
            "restrict window 'weekdays 8am to 6pm' is not valid: write e.g. "
            '"mon-fri 08:00-18:00"',
        ),
        (
            'start = "2026-01-05 09:00"',
            'start = "2026-01-05"',
            "schedule[network-oncall].layer[0].start",
            'needs a time of day, e.g. "2026-01-05 09:00"',
        ),
        (
            "start = 2026-01-05T08:00:00",
            "start = 2026-01-05",
            "schedule[network-oncall].layer[1].start",
            "needs a time of day",
        ),
        (
            "start = 2026-01-05T08:00:00",
            "start = 2026-01-05T08:00:00Z",
            "schedule[network-oncall].layer[1].start",
            "write a local time without an offset",
        ),
        (
            'rotation = "1w"',
            'rotation = "0s"',
            "schedule[network-oncall].layer[0].rotation",
            'rotation is the length of one turn and must be at least "1h", got "0s"',
        ),
        (
            'until = "2026-12-27 09:00"',
            'until = "2026-12-24 18:00"',
            "schedule[network-oncall].override[0]",
            "until must be later than from",
        ),
        (
            'members = ["alice", "bob"]\n\n[[schedule]]',
            "members = []\n\n[[schedule]]",
            "team[network].members",
            'members lists nobody: name at least one [[person]], e.g. ["alice"]',
        ),
        (
            'members = ["bob"]',
            "members = []",
            "schedule[network-oncall].layer[1].members",
            "members lists nobody",
        ),
        (
            'after = "5m"',
            'after = "5m"\n  [[person.contact]]\n  notifier = "mail"\n  to = "x"\n  after = "2m"',
            "person[alice].contact",
            "contacts are tried in the order listed: list them in order of `after`",
        ),
    ],
)
def test_section_mistakes_name_the_key_and_the_fix(old, new, path, message):
    """Each mistake a section shows alone is reported at its key path with the fix."""
    found = changed(old, new)
    assert path in found, found
    assert found[path].startswith(message), found[path]


def test_a_schedule_without_layers_is_refused():
    """A schedule needs at least one layer; the message shows one."""
    text = 'timezone = "Europe/Paris"\n  [[schedule.override]]'
    start = GOOD.index('timezone = "Europe/Paris"\n  [[schedule.layer]]')
    found = problems(GOOD[:start] + text + GOOD[GOOD.index("  person = ") - 1 :])
    assert found["schedule[network-oncall]"].startswith(
        "layer: a schedule needs at least one [[schedule.layer]]"
    )


# ---- what spans sections --------------------------------------------------------------------


def test_a_name_used_by_two_kinds_names_both_places():
    """Persons, teams, schedules and notifiers share one namespace: a collision names both."""
    found = problems(GOOD + '\n[[notifier]]\nname = "network"\ntype = "fakehook"\n')
    # Items are read kind by kind in the order the file first names each: notifiers first.
    assert found["team[network].name"] == (
        "the name 'network' is already used by [[notifier]] notifier[network] (#2 in <string>); "
        "persons, teams, schedules and notifiers share one namespace because a level's notify "
        "may name any of them: rename one of the two"
    )


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (
            'members = ["alice", "bob"]\n\n[[schedule]]',
            'members = ["alice", "bobby"]\n\n[[schedule]]',
            "team[network].members[1]",
            "unknown person 'bobby'; defined person names: alice, bob, erin",
        ),
        (
            'members = ["bob"]',
            'members = ["network"]',
            "schedule[network-oncall].layer[1].members[0]",
            "'network' is a team, not a person; defined person names: alice, bob, erin",
        ),
        (
            'person = "erin"',
            'person = "eric"',
            "schedule[network-oncall].override[0].person",
            "unknown person 'eric'",
        ),
        (
            'notifier = "mail"\n  to = "alice@example.org"',
            'notifier = "mial"\n  to = "alice@example.org"',
            "person[alice].contact[0].notifier",
            "unknown notifier 'mial'; defined notifier names: mail, ops-channel",
        ),
        (
            'notifier = "mail"\n  to = "alice@example.org"',
            'notifier = "ops-channel"\n  to = "alice@example.org"',
            "person[alice].contact[0].notifier",
            "notifier 'ops-channel' is of type 'fakechannel', which cannot address one person "
            "(it posts to a channel); a contact needs a notifier of type email, twilio_sms, "
            "ntfy, slack, webhook, exec: notifiers that can: mail",
        ),
        (
            '  to = "alice@home.example.org"\n',
            "",
            "person[alice].contact[1].to",
            "required key is missing: alice's address for notifier 'mail' (fakehook): "
            'the address this notifier sends to, e.g. to = "alice"',
        ),
        (
            'to = "alice@example.org"',
            'to = "  "',
            "person[alice].contact[0].to",
            "must not be empty: alice's address for notifier 'mail'",
        ),
        (
            'notify = ["network-oncall"]',
            'notify = ["network-on-call"]',
            "policy[network].level[0].notify",
            "unknown name 'network-on-call': not a person, team, schedule or notifier; "
            "defined names: persons alice, bob, erin; teams network; schedules network-oncall; "
            "notifiers mail, ops-channel",
        ),
    ],
)
def test_cross_section_mistakes_name_the_key_and_the_fix(old, new, path, message):
    """Unknown members and persons, unusable contacts and unknown notify names are reported."""
    found = changed(old, new)
    assert path in found, found
    assert found[path].startswith(message), found[path]


def test_a_member_without_any_person_defined_says_how_to_add_one():
    """With no [[person]] at all, an unknown member's message shows how to define one."""
    text = '[[team]]\nname = "t"\nmembers = ["zoe"]\n'
    assert problems(text)["team[t].members[0]"] == (
        "unknown person 'zoe'; no [[person]] is defined: add one with name = \"zoe\""
    )


def test_a_config_without_people_keeps_the_notifier_message():
    """Without persons, teams or schedules an unknown notify name reads as before."""
    text = '[[policy]]\nname = "p"\n[[policy.level]]\nafter = "0m"\nnotify = ["x"]\n'
    assert problems(text)["policy[p].level[0].notify"] == (
        "unknown notifier 'x'; defined notifier names: none"
    )


SLACK = """
[[notifier]]
name = "chat"
type = "slack"
url = "https://hooks.slack.example/services/T0/B0/x"
{extra}

[[person]]
name = "alice"
  [[person.contact]]
  notifier = "chat"
  to = "U0123ABCD"
"""


def test_a_slack_contact_needs_a_bot_token_and_loads_with_one(monkeypatch):
    """A person's contact on a slack notifier without bot_token is refused with the fix; with
    one it loads."""
    slack = "escalatord.notify.slack:SlackNotifier"
    monkeypatch.setitem(plugins.BUILTIN_NOTIFIERS, "slack", slack)
    found = problems(SLACK.format(extra=""))
    assert "bot_token" in found["person[alice].contact[0].notifier"]
    assert "chat:write" in found["person[alice].contact[0].notifier"]
    config = load_text(toml(SLACK.format(extra='bot_token = "xoxb-1-2-3"')), env={})
    assert config.person_by_name["alice"].contacts[0].to == "U0123ABCD"
