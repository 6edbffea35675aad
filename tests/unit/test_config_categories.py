"""`[[category]]`: its config checks, how rules decide an incident's category, and what the
payload and message texts say about it (pure; the store and the webhook: integration)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from escalatord import plugins
from escalatord.config.loader import load, load_text
from escalatord.core.events import IncidentView
from escalatord.core.rules import match
from escalatord.core.status import Status
from escalatord.errors import ConfigError
from escalatord.notify.templates import TemplateConfig, render
from tests.support.notifications import sample

CATEGORIES = """
[[category]]
name = "patient-care"
priority = 1
description = "Anything that endangers patient care"

[[category]]
name = "financial-risk"
priority = 2
"""


def problems(text: str) -> dict[str, str]:
    """Load `text`; {key path: message} of every problem reported."""
    with pytest.raises(ConfigError) as caught:
        load_text(textwrap.dedent(text), name="main.toml", env={})
    assert all(p.file == "main.toml" for p in caught.value.problems)
    return {p.path: p.message for p in caught.value.problems}


def test_categories_load_with_name_priority_and_description():
    """Categories keep their order, priority and description; description may be left out."""
    config = load_text(CATEGORIES, env={})
    assert [(c.name, c.priority) for c in config.categories] == [
        ("patient-care", 1),
        ("financial-risk", 2),
    ]
    assert config.categories[0].description == "Anything that endangers patient care"
    assert config.categories[1].description == ""


def test_a_rule_naming_an_unknown_category_is_an_error_naming_the_defined_ones():
    """An unknown category is reported at the rule's `category` key, naming those defined."""
    found = problems(CATEGORIES + '[[rule]]\nname = "r"\ncategory = "patient-cares"\n')
    assert found == {
        "rule[r].category": "unknown category 'patient-cares'; defined category names: "
        "patient-care, financial-risk"
    }


def test_a_category_name_used_twice_is_an_error():
    """Two [[category]] tables of one name are refused at the second one's `name`."""
    found = problems(CATEGORIES + '[[category]]\nname = "patient-care"\npriority = 3\n')
    assert list(found) == ["category[patient-care].name"]
    assert "duplicate category name 'patient-care'" in found["category[patient-care].name"]


@pytest.mark.parametrize("priority", [0, 6])
def test_priority_is_1_to_5(priority):
    """A priority outside 1 (most urgent) to 5 is an error at the category's `priority` key."""
    found = problems(f'[[category]]\nname = "x"\npriority = {priority}\n')
    assert list(found) == ["category[x].priority"]


def test_priority_is_required_and_unknown_keys_are_refused():
    """A category without priority, or with a key it does not have, is an error."""
    found = problems('[[category]]\nname = "x"\ncolour = "red"\n')
    assert set(found) == {"category[x].priority", "category[x].colour"}


def test_continue_merging_picks_the_first_rule_that_sets_a_category():
    """With continue = true the first matched rule that sets a category wins, as severity does;
    a rule without one does not reset it."""
    config = load_text(
        CATEGORIES
        + textwrap.dedent("""
        [[rule]]
        name = "owner only"
        owner = "ops"
        continue = true
        [[rule]]
        name = "clinical"
        match = { site = "hq" }
        category = "patient-care"
        continue = true
        [[rule]]
        name = "money"
        category = "financial-risk"
        """),
        env={},
    )
    decided = match(config.rules, {"site": "hq"}, "hl7", Status.CRITICAL)
    assert decided is not None and decided.category == "patient-care"
    assert decided.with_priority({"patient-care": 1}).priority == 1
    other = match(config.rules, {"site": "boston"}, "printer", Status.CRITICAL)
    assert other is not None and other.category == "financial-risk"


def test_a_decision_without_category_has_no_priority():
    """No rule setting a category leaves both None, whatever the categories defined."""
    config = load_text('[[rule]]\nname = "all"\n', env={})
    decided = match(config.rules, {}, "web", Status.CRITICAL)
    assert decided is not None
    assert (decided.category, decided.with_priority({"x": 1}).priority) == (None, None)


def test_payload_always_has_category_and_priority():
    """`incident.category` and `incident.priority` are in every payload: null without one."""
    plain = sample().payload()["incident"]
    assert (plain["category"], plain["priority"]) == (None, None)
    incident = sample(category="patient-care", priority=1).payload()["incident"]
    assert (incident["category"], incident["priority"]) == ("patient-care", 1)
    assert IncidentView.from_json(incident).category == "patient-care"
    assert IncidentView.from_json(incident).priority == 1


def test_templates_have_category_and_priority():
    """$category and $priority are template variables ("" without a category), and the
    default body names the category."""
    template = TemplateConfig(title="P$priority $category: $title")
    message = render(sample(category="patient-care", priority=1), template)
    assert message.title == "P1 patient-care: hl7-adt-feed is CRITICAL"
    body = render(sample(category="patient-care", priority=1)).body
    assert "Category:  patient-care (priority 1)" in body
    plain = render(sample())
    assert (plain.fields["category"], plain.fields["priority"]) == ("", "")
    assert "Category:" not in plain.body


def test_hospital_example_has_the_four_categories_and_its_rules_name_them(monkeypatch):
    """config/examples/hospital.toml defines the seed's four categories by priority, each with
    a description, and every rule of it (conf.d included) names one."""
    monkeypatch.undo()  # the real check and notifier types (as test_config_shipped does)
    plugins.load.cache_clear()
    config = load(Path(__file__).parents[2] / "config/examples/hospital.toml", env={})
    assert [(c.name, c.priority) for c in config.categories] == [
        ("patient-care", 1),
        ("employee-safety", 1),
        ("financial-risk", 2),
        ("client-satisfaction", 3),
    ]
    assert all(c.description for c in config.categories)
    assert {r.name: r.category for r in config.rules} == {
        "patient care": "patient-care",
        "employee safety": "employee-safety",
        "remote offices": "client-satisfaction",
        "everything else": "financial-risk",
    }
