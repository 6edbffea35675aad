"""check-config on the calendar's keys: `[daemon] retention` and `[[schedule]]
handoff_notice`, and the plan app.py hands the calendar from them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from escalatord.app import calendar_plan
from escalatord.config.loader import load_text
from escalatord.errors import ConfigError
from tests.support.config_files import toml

PEOPLE = """
[[notifier]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:9/hook"

[[person]]
name = "alice"
full_name = "Alice Moreau"
  [[person.contact]]
  notifier = "hook"
  to = "alice-desk"
  [[person.contact]]
  notifier = "hook"
  to = "alice-phone"
  after = "5m"

[[person]]
name = "bob"

[[schedule]]
name = "network-oncall"
timezone = "Europe/Paris"
handoff_notice = true
  [[schedule.layer]]
  members = ["alice", "bob"]
  start = "2026-01-05 09:00"
  rotation = "1w"

[[schedule]]
name = "quiet"
timezone = "UTC"
  [[schedule.layer]]
  members = ["bob"]
  start = "2026-01-05 09:00"
  rotation = "1w"
"""


def problems(text: str) -> dict[str, str]:
    """Load `text`; {key path: message} of every problem reported."""
    with pytest.raises(ConfigError) as caught:
        load_text(toml(text), env={})
    return {p.path: p.message for p in caught.value.problems}


def test_retention_defaults_to_400_days_and_takes_a_duration():
    """Without the key the retention is 400 days; "90d" is read as 90 days."""
    assert load_text(toml(""), env={}).daemon.retention == timedelta(days=400)
    config = load_text(toml('[daemon]\nretention = "90d"\n'), env={})
    assert config.daemon.retention == timedelta(days=90)


@pytest.mark.parametrize("value", ['"12h"', '"0s"', '"23h59m"'])
def test_a_retention_under_a_day_is_refused_naming_the_minimum(value: str):
    """Less than a day would delete incidents people may still ask about: refused at its key
    with the minimum and an example."""
    found = problems(f"[daemon]\nretention = {value}\n")
    message = found["daemon.retention"]
    assert 'retention must be at least "1d"' in message
    assert 'retention = "400d"' in message


def test_a_retention_that_is_not_a_duration_is_refused():
    """A bare number is not a duration: the problem is reported at daemon.retention."""
    assert "daemon.retention" in problems("[daemon]\nretention = 400\n")


def test_handoff_notice_is_off_by_default_and_on_with_true():
    """Only schedules with handoff_notice = true are in the calendar's plan, each person
    reached at their first contact; a person without contacts has none."""
    config = load_text(toml(PEOPLE), env={})
    assert config.schedule_by_name["quiet"].handoff_notice is False
    plan = calendar_plan(config)
    assert plan.retention == timedelta(days=400)
    [rota] = plan.rotas
    assert rota.schedule.name == "network-oncall"
    alice = rota.recipients["alice"]
    assert (alice.notifier, alice.to, alice.full_name) == ("hook", "alice-desk", "Alice Moreau")
    assert "bob" not in rota.recipients


@pytest.mark.parametrize("value", ['"yes"', "1", '"true"'])
def test_handoff_notice_must_be_a_boolean(value: str):
    """Only true or false: "yes", 1 or the string "true" are refused with what the key does."""
    text = PEOPLE.replace("handoff_notice = true", f"handoff_notice = {value}")
    found = problems(text)
    [message] = [m for path, m in found.items() if path.endswith("handoff_notice")]
    assert "handoff_notice must be true or false" in message
