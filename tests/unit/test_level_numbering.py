"""One numbering for policy levels: config errors, the webhook payload's `level`, the timeline
and message templates all call the first level 0."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from escalatord.config.loader import load_text
from escalatord.config.model import PolicyConfig
from escalatord.core.events import Event
from escalatord.core.planning import plan, snapshot
from escalatord.errors import ConfigError
from escalatord.notify.templates import TemplateConfig, render
from tests.support.notifications import sample

LADDER = """
[[policy]]
name = "p"
  [[policy.level]]
  after = "0m"
  notify = ["hook"]
  [[policy.level]]
  after = "10m"
  notify = ["pager"]

[[notifier]]
name = "hook"
type = "log"
"""


def test_a_config_error_numbers_levels_as_the_payload_does():
    """The second level's unknown notifier is reported at level[1], and the page that level
    sends carries "level": 1."""
    with pytest.raises(ConfigError) as caught:
        load_text(LADDER, env={})
    assert [p.path for p in caught.value.problems] == ["policy[p].level[1].notify"]

    levels = PolicyConfig.model_validate(
        {
            "name": "p",
            "level": [{"after": "0m", "notify": ["a"]}, {"after": "10m", "notify": ["b"]}],
        }
    )
    steps = plan(snapshot(levels), datetime(2026, 1, 1, tzinfo=UTC))
    assert [(s.level, s.notify) for s in steps] == [(0, ("a",)), (1, ("b",))]


def test_the_first_level_is_level_0_in_config_errors():
    """A mistake in the first level is reported at level[0]."""
    with pytest.raises(ConfigError) as caught:
        load_text(LADDER.replace('"0m"', '"soon"').replace('"pager"', '"hook"'), env={})
    assert [p.path for p in caught.value.problems] == ["policy[p].level[0].after"]


def test_messages_number_levels_as_the_payload_does():
    """An escalation sent by payload level 1 says "level 1" in its title and in `$level`."""
    escalated = sample(Event.ESCALATED, level=1)
    assert render(escalated).title.startswith("[CRITICAL] Escalated (level 1): ")
    template = TemplateConfig.model_validate({"title": "L$level", "body": "$level"})
    assert render(escalated, template).title == "L1"
