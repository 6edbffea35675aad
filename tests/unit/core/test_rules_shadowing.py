"""Rules that can never match: which ones the analysis names, and that it is never wrong."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from escalatord.config.model import Config, RuleConfig
from escalatord.core.rules import match, matches
from escalatord.core.shadowing import Shadow, shadow_warnings, shadowed
from escalatord.core.status import Status


def rule(name="r", **kw) -> RuleConfig:
    if "continue_" in kw:
        kw["continue"] = kw.pop("continue_")
    return RuleConfig.model_validate({"name": name, **kw})


def names(rules: list[RuleConfig]) -> list[tuple[str, str]]:
    """(shadowed rule, the rule that takes all it would) for each finding."""
    return [(rules[s.rule].name, rules[s.by].name) for s in shadowed(rules)]


def test_a_rule_appended_after_the_catch_all_is_not_reported():
    """The shipped catch-all is a default route: a rule below it is reached, nothing to warn."""
    rules = [rule("everything", policy="default"), rule("web", match={"category": "web"})]
    assert shadowed(rules) == []


def test_a_narrower_rule_after_a_broader_one_is_reported():
    """`site = hq` without continue takes every problem `site = hq, category = web` would."""
    rules = [
        rule("hq", match={"site": "hq"}),
        rule("hq-web", match={"site": "hq", "category": "web"}),
    ]
    assert names(rules) == [("hq-web", "hq")]
    assert shadowed(list(reversed(rules))) == []  # the narrow one first: both are reached


def test_lists_of_values_are_compared_as_sets():
    """A list of values shadows a rule whose values are all in it, and only then."""
    broad = rule("offices", match={"site": ["boston", "hq"]})
    assert names([broad, rule("hq", match={"site": "hq"})]) == [("hq", "offices")]
    assert names([broad, rule("more", match={"site": ["hq", "paris"]})]) == []


def test_a_regex_shadows_exact_values_it_matches_and_the_same_regex():
    """A regex covers the exact values it fullmatches and a rule with the very same regex;
    two different regexes are never claimed to cover one another."""
    regex = rule("h-sites", match_re={"site": "h.*"})
    assert names([regex, rule("hq", match={"site": ["hq", "hk"]})]) == [("hq", "h-sites")]
    assert names([regex, rule("boston", match={"site": "boston"})]) == []
    assert names([regex, rule("same", match_re={"site": "h.*"}, status=["critical"])]) == [
        ("same", "h-sites")
    ]
    assert names([regex, rule("narrower", match_re={"site": "hq.*"})]) == []


def test_a_regex_narrows_the_exact_values_of_the_same_rule():
    """Values a rule's own regex rejects are not counted as values it can match."""
    hq = rule("hq", match={"site": "hq"})
    later = rule("later", match={"site": ["hq", "boston"]}, match_re={"site": "h.*"})
    assert names([hq, later]) == [("later", "hq")]


def test_status_must_be_covered_too():
    """A rule for critical problems only does not shadow one that also takes warnings."""
    critical = rule("critical", match={"site": "hq"}, status=["critical"])
    assert names([critical, rule("hq", match={"site": "hq"})]) == []
    later = rule("hq", match={"site": "hq"}, status=["critical"])
    assert names([critical, later]) == [("hq", "critical")]


def test_continue_never_shadows():
    """A rule that says `continue = true` lets evaluation go on: it hides nothing."""
    rules = [rule("hq", match={"site": "hq"}, continue_=True), rule("hq-2", match={"site": "hq"})]
    assert shadowed(rules) == []


def test_a_second_default_route_is_reported():
    """Of two default routes only the first is used: the second is named."""
    rules = [rule("everything", policy="a"), rule("web", match={"x": "y"}), rule("catch-all")]
    assert names(rules) == [("catch-all", "everything")]


def test_a_status_only_rule_for_every_status_shadows_all_after_it():
    """A rule with `status` but no label matchers is ordinary and can hide the default route."""
    rules = [
        rule("all", status=["warning", "critical", "unknown"]),
        rule("web", match={"category": "web"}),
        rule("everything"),
    ]
    assert names(rules) == [("web", "all"), ("everything", "all")]


def test_warnings_name_both_rules_and_their_files():
    """Each warning names the rule that is never reached, the rule before it, and both files."""
    rules = (rule("hq", match={"site": "hq"}), rule("hq-web", match={"site": "hq", "x": "y"}))
    config = Config(rules=rules, rule_files=("/etc/e/escalatord.toml", "/etc/e/conf.d/web.toml"))
    [warning] = shadow_warnings(config)
    assert warning.startswith(
        "rule 'hq-web' (/etc/e/conf.d/web.toml) can never match: "
        "rule 'hq' (/etc/e/escalatord.toml) is tried before it without `continue`"
    )


# ---- the analysis is never wrong --------------------------------------------------------------

KEYS = ("site", "category", "check")
VALUES = ("hq", "hk", "boston", "web", "db")
PATTERNS = ("hq", "h.*", "web|db", ".*", "b.*", "[a-z]{2}", "(hq|web)")
STATUSES = (Status.WARNING, Status.CRITICAL, Status.UNKNOWN)

matcher = st.one_of(st.sampled_from(VALUES), st.lists(st.sampled_from(VALUES), max_size=3))
statuses = st.lists(st.sampled_from(["warning", "critical", "unknown"]), max_size=3, unique=True)


@st.composite
def rule_lists(draw) -> list[RuleConfig]:
    rules = []
    for number in range(draw(st.integers(1, 6))):
        data = {
            "name": f"r{number}",
            "match": draw(st.dictionaries(st.sampled_from(KEYS), matcher, max_size=2)),
            "match_re": draw(st.dictionaries(st.sampled_from(KEYS), st.sampled_from(PATTERNS))),
            "continue": draw(st.booleans()),
        }
        if draw(st.booleans()):
            data["status"] = draw(statuses)
        rules.append(RuleConfig.model_validate(data))
    return rules


# Every problem the generated rules can tell apart: each label absent or one of VALUES.
PROBLEMS = [
    ({k: v for k, v in (("site", site), ("category", category)) if v is not None}, check, status)
    for site, category, check, status in itertools.product(
        (None, *VALUES), (None, *VALUES), VALUES, STATUSES
    )
]


@settings(max_examples=300, deadline=None)
@given(rule_lists())
def test_a_shadowed_rule_is_never_reached_by_the_live_matcher(rules):
    """Whenever the analysis says A shadows B, no labels, check or status reach B in match(),
    and every problem B matches, A matches too."""
    found: list[Shadow] = shadowed(rules)
    for labels, check, status in PROBLEMS:
        decided = match(rules, labels, check, status)
        reached = decided.rules if decided else ()
        for shadow in found:
            b, a = rules[shadow.rule], rules[shadow.by]
            assert b.name not in reached
            assert not matches(b, labels, check, status) or matches(a, labels, check, status)
