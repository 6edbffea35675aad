"""config/lint.py: each finding of `escalatord lint` on a small config, one by one, and a clean
config that gives none."""

from __future__ import annotations

from datetime import UTC, datetime

from escalatord.config.lint import lint
from escalatord.config.loader import load_text
from escalatord.core.oncall import Override

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday

CLEAN = """
[[check]]
name = "web"
type = "tcp"
host = "127.0.0.1"
port = 80
labels = { site = "hq" }

[[rule]]
name = "all"
policy = "p"

[[policy]]
name = "p"
  [[policy.level]]
  after = "0m"
  notify = ["rota"]

[[notifier]]
name = "mail"
type = "webhook"
url = "http://127.0.0.1:9000/hook"

[[person]]
name = "alice"
  [[person.contact]]
  notifier = "mail"
  to = "alice"

[[person]]
name = "bob"
  [[person.contact]]
  notifier = "mail"
  to = "bob"

[[schedule]]
name = "rota"
timezone = "Europe/Paris"
  [[schedule.layer]]
  members = ["alice", "bob"]
  start = "2026-01-05 09:00"
  rotation = "1w"
"""


def found(text: str, **kwargs) -> list[tuple[str, str]]:
    config = load_text(text, "test.toml")
    return [(f.kind, f.key) for f in lint(config, kwargs.pop("start", START), **kwargs)]


def test_a_clean_config_has_no_finding():
    """A check covered by a catch-all rule paging an always-staffed rota gives nothing."""
    assert found(CLEAN) == []


def test_a_check_no_rule_covers_in_some_status():
    """A rule for critical alone leaves the check uncovered when warning or unknown."""
    text = CLEAN.replace('name = "all"', 'name = "all"\nstatus = ["critical"]')
    config = load_text(text, "test.toml")
    [finding] = lint(config, START)
    assert (finding.kind, finding.file, finding.key) == (
        "uncovered-check",
        "test.toml",
        "check[web]",
    )
    assert "warning or unknown" in finding.message


def test_a_rule_that_matches_no_check():
    """A rule on a label value no check carries is reported at the rule, in its file."""
    text = CLEAN.replace(
        "[[rule]]", '[[rule]]\nname = "lab"\nmatch = { site = "lab" }\npolicy = "p"\n\n[[rule]]'
    )
    assert found(text) == [("rule-matches-no-check", "rule[lab]")]


def test_a_shadowed_rule():
    """A rule behind an earlier one that takes all it would is shadowed."""
    text = CLEAN.replace(
        "[[rule]]",
        '[[rule]]\nname = "hq"\nmatch = { site = "hq" }\npolicy = "p"\n\n'
        '[[rule]]\nname = "web"\nmatch = { site = "hq", check = "web" }\npolicy = "p"\n\n[[rule]]',
    )
    assert found(text) == [("shadowed-rule", "rule[web]")]


def test_a_schedule_gap_is_found_with_its_times_in_the_zone():
    """A restricted layer leaves the level with nobody outside its hours: the first gap."""
    text = CLEAN.replace('rotation = "1w"', 'rotation = "1w"\n  restrict = ["mon-fri 09:00-18:00"]')
    config = load_text(text, "test.toml")
    [finding] = lint(config, START)
    assert (finding.kind, finding.key) == ("schedule-gap", "policy[p].level[0].notify")
    assert "from Mon 2026-03-02 18:00 CET until Tue 2026-03-03 09:00 CET" in finding.message


def test_a_schedule_gap_across_the_spring_forward_night():
    """A gap that ends after the DST change is shown in summer time, at the local hour."""
    text = CLEAN.replace('rotation = "1w"', 'rotation = "1w"\n  restrict = ["mon-fri 09:00-18:00"]')
    config = load_text(text, "test.toml")
    friday = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # Paris changes on Sunday 29 March
    [finding] = lint(config, friday, weeks=1)
    assert "from Fri 2026-03-27 18:00 CET until Mon 2026-03-30 09:00 CEST" in finding.message


def test_a_stored_override_fills_a_gap():
    """A run-time override covering the gap hides it; without it the gap is there."""
    text = CLEAN.replace('start = "2026-01-05 09:00"', 'start = "2026-03-03 09:00"')
    config = load_text(text, "test.toml")
    [gap] = lint(config, START, weeks=1)
    assert "until Tue 2026-03-03 09:00 CET" in gap.message
    cover = Override("alice", START, datetime(2026, 3, 3, 8, 0, tzinfo=UTC))
    assert lint(config, START, weeks=1, overrides={"rota": [cover]}) == []


def test_a_level_of_a_person_without_contact():
    """A person without a contact is a finding, and so is a level naming only them."""
    text = (
        CLEAN.replace(
            'notify = ["rota"]',
            'notify = ["rota"]\n  [[policy.level]]\n  after = "5m"\n  notify = ["carol"]',
        )
        + '\n[[person]]\nname = "carol"\n'
    )
    assert found(text) == [
        ("level-reaches-nobody", "policy[p].level[1].notify"),
        ("person-without-contact", "person[carol].contact"),
    ]


def test_names_defined_and_never_used():
    """A policy, schedule, team, person and notifier nobody references are each reported."""
    text = (
        CLEAN
        + """
[[policy]]
name = "spare"
  [[policy.level]]
  after = "0m"
  notify = ["mail"]

[[notifier]]
name = "hook"
type = "log"

[[person]]
name = "dave"
  [[person.contact]]
  notifier = "mail"
  to = "dave"

[[team]]
name = "ops"
members = ["alice"]

[[schedule]]
name = "other"
timezone = "UTC"
  [[schedule.layer]]
  members = ["bob"]
  start = "2026-01-05 09:00"
  rotation = "1w"
"""
    )
    assert found(text) == [
        ("unused-policy", "policy[spare]"),
        ("unused-schedule", "schedule[other]"),
        ("unused-team", "team[ops]"),
        ("unused-person", "person[dave]"),
        ("unused-notifier", "notifier[hook]"),
    ]


def test_findings_name_the_file_given_for_the_item():
    """`files` names the file each item was read from; the default is the main file."""
    text = CLEAN + '\n[[team]]\nname = "ops"\nmembers = ["alice"]\n'
    config = load_text(text, "main.toml")
    [finding] = lint(config, START, files={("team", "ops"): "conf.d/ops.toml"})
    assert (finding.file, finding.as_dict()["key"]) == ("conf.d/ops.toml", "team[ops]")


URGENT = """
[[category]]
name = "patient-care"
priority = 1

[[category]]
name = "client-satisfaction"
priority = 3

[[category]]
name = "unused-one"
priority = 2
"""


def test_an_urgent_categorys_rule_without_runbook_or_steps_and_unused_categories():
    """A rule of a priority 1 category lacking owner, runbook and steps is found, naming what
    is missing; a priority 3 one is not; a category no rule names is unused."""
    text = URGENT + CLEAN.replace('name = "all"', 'name = "all"\ncategory = "patient-care"')
    config = load_text(text, "test.toml")
    findings = lint(config, START)
    assert [(f.kind, f.key) for f in findings] == [
        ("urgent-rule-incomplete", "rule[all]"),
        ("unused-category", "category[client-satisfaction]"),
        ("unused-category", "category[unused-one]"),
    ]
    assert "without owner, runbook, steps" in findings[0].message
    done = text.replace(
        'category = "patient-care"',
        'category = "patient-care"\nowner = "ward-it"\nrunbook = "https://r"\nsteps = ["Call"]',
    )
    assert [f.kind for f in lint(load_text(done, "test.toml"), START)] == [
        "unused-category",
        "unused-category",
    ]
