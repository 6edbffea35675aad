"""Storm grouping (core/grouping.py): the group key, and which group a new incident joins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from escalatord.config.model import RuleConfig
from escalatord.core.grouping import (
    KEY_LIMIT,
    Grouping,
    OpenGroup,
    group_key,
    grouping_of,
    join,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SITE = Grouping("storms", ("site",), timedelta(seconds=30))


def rule(name: str, **kw) -> RuleConfig:
    return RuleConfig.model_validate({"name": name, **kw})


def test_key_is_rule_and_grouped_values():
    """The key names the rule and each grouped label's value, in group_by order."""
    g = Grouping("r", ("site", "env"), timedelta(seconds=30))
    assert (
        group_key(g, {"site": "boston", "env": "prod", "x": "y"}, "web") == "r|site=boston&env=prod"
    )


def test_missing_label_counts_as_empty_and_check_is_the_name():
    """A label the incident lacks is the empty value; "check" is the check's name."""
    g = Grouping("r", ("site", "check"), timedelta(0))
    assert group_key(g, {}, "web") == "r|site=&check=web"


def test_long_key_is_cut_with_a_hash():
    """A key over the column's 400 characters keeps its head and ends in a hash of the whole."""
    key_a = group_key(SITE, {"site": "a" * 500}, "web")
    key_b = group_key(SITE, {"site": "a" * 499 + "b"}, "web")
    assert len(key_a) == KEY_LIMIT and key_a != key_b


def test_first_incident_leads_a_new_group():
    """With no open group of its key, an incident leads a new group."""
    other = OpenGroup(7, "storms|site=paris", T0)
    m = join([other], SITE, {"site": "boston"}, "web", T0)
    assert m.leader is None and m.key == "storms|site=boston"


def test_joins_a_group_of_equal_values_within_group_wait():
    """An incident with the same values opening within group_wait of the first joins it."""
    group = OpenGroup(7, "storms|site=boston", T0)
    assert join([group], SITE, {"site": "boston"}, "db", T0 + timedelta(seconds=30)).leader == 7


def test_after_group_wait_a_new_group_begins():
    """Past group_wait of the group's first incident, a new incident leads its own group."""
    group = OpenGroup(7, "storms|site=boston", T0)
    assert join([group], SITE, {"site": "boston"}, "db", T0 + timedelta(seconds=31)).leader is None


def test_different_values_do_not_join():
    """Equal rule but another site: not the same group."""
    group = OpenGroup(7, "storms|site=boston", T0)
    assert join([group], SITE, {"site": "paris"}, "db", T0).leader is None


def test_earliest_fitting_group_wins():
    """When several groups of the key still fit, the one whose first incident is earliest wins."""
    groups = [
        OpenGroup(9, "storms|site=boston", T0 + timedelta(seconds=5)),
        OpenGroup(7, "storms|site=boston", T0),
    ]
    assert join(groups, SITE, {"site": "boston"}, "db", T0 + timedelta(seconds=10)).leader == 7


def test_grouping_of_takes_the_first_matched_rule_with_group_by():
    """The first matched rule (in decision order) that sets group_by decides the grouping."""
    rules = [rule("plain"), rule("g", group_by=["site"], group_wait="1m")]
    assert grouping_of(rules, ("plain", "g")) == Grouping("g", ("site",), timedelta(minutes=1))
    assert grouping_of(rules, ("plain",)) is None


def test_group_wait_defaults_to_30s_and_needs_group_by():
    """group_wait defaults to 30s; setting it without group_by, or below 0, is a config error."""
    assert rule("g", group_by=["site"]).group_wait == timedelta(seconds=30)
    with pytest.raises(ValidationError, match="group_wait needs group_by"):
        rule("g", group_wait="1m")
    with pytest.raises(ValidationError):
        rule("g", group_by=["site"], group_wait="-1s")
