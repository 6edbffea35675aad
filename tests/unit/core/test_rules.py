"""Escalation rule matching: matchers, rule order, and merging with `continue`."""

from __future__ import annotations

import pytest

from escalatord.config.model import RuleConfig
from escalatord.core.rules import Decision, match, matches
from escalatord.core.status import Status

LABELS = {"site": "hq", "category": "patient-care", "env": "prod-eu-1"}


def rule(name="r", **kw) -> RuleConfig:
    # Config models take TOML keys only: `continue`, not the field name `continue_`.
    if "continue_" in kw:
        kw["continue"] = kw.pop("continue_")
    return RuleConfig.model_validate({"name": name, **kw})


def test_rule_without_matchers_matches_every_problem():
    """A rule with no matchers applies to any check in any problem status."""
    r = rule()
    for status in (Status.WARNING, Status.CRITICAL, Status.UNKNOWN):
        assert matches(r, {}, "web", status)


def test_ok_never_matches():
    """An OK status matches no rule, and match() gives no decision."""
    assert not matches(rule(), LABELS, "web", Status.OK)
    assert match([rule()], LABELS, "web", Status.OK) is None


def test_unreachable_matches_no_rule():
    """An unreachable check (behind a down parent) is never matched by a rule."""
    assert match([rule()], LABELS, "web", Status.UNREACHABLE) is None


def test_exact_label_match():
    """`match` requires the label to equal the value."""
    r = rule(match={"site": "hq"})
    assert matches(r, LABELS, "web", Status.CRITICAL)
    assert not matches(r, {**LABELS, "site": "boston"}, "web", Status.CRITICAL)


def test_list_matcher_is_any_of():
    """A list of values in `match` accepts any one of them."""
    r = rule(match={"site": ["boston", "hq"]})
    assert matches(r, LABELS, "web", Status.CRITICAL)
    assert not matches(r, {"site": "paris"}, "web", Status.CRITICAL)


def test_every_matcher_must_hold():
    """All `match` and `match_re` keys must match, not just one."""
    r = rule(match={"site": "hq", "category": "network"})
    assert not matches(r, LABELS, "web", Status.CRITICAL)
    r = rule(match={"site": "hq"}, match_re={"env": "staging.*"})
    assert not matches(r, LABELS, "web", Status.CRITICAL)


def test_regex_must_match_the_whole_value():
    """`match_re` is a full match: a pattern matching only part of the label does not apply."""
    assert matches(rule(match_re={"env": r"prod-.*"}), LABELS, "web", Status.CRITICAL)
    assert not matches(rule(match_re={"env": r"prod"}), LABELS, "web", Status.CRITICAL)
    assert not matches(rule(match_re={"env": r"eu-1"}), LABELS, "web", Status.CRITICAL)


def test_missing_label_never_matches():
    """A check without the label never matches, even a regex that accepts the empty string."""
    assert not matches(rule(match={"team": "db"}), LABELS, "web", Status.CRITICAL)
    assert not matches(rule(match_re={"team": ".*"}), LABELS, "web", Status.CRITICAL)


def test_check_name_is_the_pseudo_label_check():
    """The label "check" is the check's name, overriding a real label of that name."""
    assert matches(rule(match={"check": "web"}), {}, "web", Status.CRITICAL)
    assert matches(rule(match_re={"check": "we.*"}), {}, "web", Status.CRITICAL)
    assert not matches(rule(match={"check": "db"}), {"check": "db"}, "web", Status.CRITICAL)


def test_status_filter():
    """A rule listing statuses applies only to those."""
    r = rule(status=["critical"])
    assert matches(r, {}, "web", Status.CRITICAL)
    assert not matches(r, {}, "web", Status.WARNING)
    assert not matches(r, {}, "web", Status.UNKNOWN)


def test_first_match_wins():
    """Without `continue`, the first matching rule decides and later rules are ignored."""
    rules = [
        rule("network", match={"category": "network"}, severity="warning"),
        rule("patient", match={"category": "patient-care"}, severity="critical", policy="clin"),
        rule("catch-all", severity="info", policy="default", steps=["never"]),
    ]
    decision = match(rules, LABELS, "hl7", Status.CRITICAL)
    assert decision == Decision(
        rules=("patient",), severity="critical", policy="clin", owner="", runbook="", steps=()
    )


def test_no_match_gives_none():
    """When no rule matches, there is no decision."""
    assert match([rule(match={"site": "paris"})], LABELS, "web", Status.CRITICAL) is None
    assert match([], LABELS, "web", Status.CRITICAL) is None


def test_severity_defaults_to_error():
    """A matched rule that sets no severity yields severity "error"."""
    decision = match([rule(owner="ops")], LABELS, "web", Status.WARNING)
    assert decision is not None
    assert (decision.severity, decision.owner, decision.policy) == ("error", "ops", None)


def test_continue_merges_first_value_and_accumulates_steps():
    """With `continue`, scalars take the first value set and steps accumulate in rule order."""
    rules = [
        rule(
            "site", match={"site": "hq"}, owner="hq-ops", steps=["Call the HQ desk"], continue_=True
        ),
        rule(
            "skipped", match={"site": "boston"}, severity="info", steps=["not me"], continue_=True
        ),
        rule(
            "care",
            match={"category": "patient-care"},
            severity="critical",
            owner="clin-lead",
            runbook="https://wiki/hl7",
            steps=["Check the queue"],
            continue_=True,
        ),
        rule("default", severity="warning", policy="default", steps=["Write it up"]),
        rule("after-stop", policy="never", steps=["never"]),
    ]
    decision = match(rules, LABELS, "hl7", Status.CRITICAL)
    assert decision == Decision(
        rules=("site", "care", "default"),
        severity="critical",
        policy="default",
        owner="hq-ops",
        runbook="https://wiki/hl7",
        steps=("Call the HQ desk", "Check the queue", "Write it up"),
    )


def test_continue_on_the_last_rule_ends_at_the_list_end():
    """A matched rule with `continue` and nothing after it still gives its decision."""
    decision = match([rule("only", continue_=True, policy="p")], {}, "web", Status.UNKNOWN)
    assert decision is not None and decision.rules == ("only",) and decision.policy == "p"


def test_continue_key_is_spelled_continue_in_config():
    """The TOML key `continue` sets continue_ on the rule."""
    assert RuleConfig.model_validate({"name": "r", "continue": True}).continue_ is True


@pytest.mark.parametrize("status", [Status.WARNING, Status.CRITICAL, Status.UNKNOWN])
def test_match_and_matches_agree(status):
    """match() returns a decision exactly when some rule matches()."""
    rules = [rule("a", status=["critical"]), rule("b", match={"site": "hq"}, status=["unknown"])]
    any_match = any(matches(r, LABELS, "web", status) for r in rules)
    assert (match(rules, LABELS, "web", status) is not None) == any_match


# ---- default routes: rules without matchers are tried last ------------------------------------

WEB = {"site": "hq", "category": "web"}


def test_a_rule_after_a_catch_all_is_reached():
    """A rule appended below a catch-all (no match, match_re or status) decides for its checks."""
    rules = [
        rule("everything", severity="error", policy="default", owner="ops"),
        rule("web", match={"category": "web"}, severity="critical", policy="web", owner="web"),
    ]
    decision = match(rules, WEB, "shop", Status.CRITICAL)
    assert decision is not None
    assert (decision.rules, decision.policy, decision.owner) == (("web",), "web", "web")


def test_the_catch_all_still_takes_what_no_other_rule_matches():
    """The default route decides for a problem no other rule matches, wherever it stands."""
    rules = [rule("everything", policy="default"), rule("web", match={"category": "web"})]
    decision = match(rules, {"category": "db"}, "pg", Status.WARNING)
    assert decision is not None and decision.rules == ("everything",)


def test_rules_that_continue_fall_through_to_the_default_route():
    """A chain of `continue` rules still ends at the default route, which fills what they left."""
    rules = [
        rule("everything", policy="default", steps=["Write it up"]),
        rule("hq", match={"site": "hq"}, owner="hq-ops", steps=["Call HQ"], continue_=True),
    ]
    decision = match(rules, WEB, "shop", Status.CRITICAL)
    assert decision is not None
    assert decision.rules == ("hq", "everything")
    assert (decision.owner, decision.policy) == ("hq-ops", "default")
    assert decision.steps == ("Call HQ", "Write it up")


def test_a_catch_all_with_continue_keeps_its_place():
    """A rule without matchers that says `continue` is not a default route: it adds to all."""
    rules = [
        rule("all", steps=["Note the time"], continue_=True),
        rule("web", match={"category": "web"}, policy="web", steps=["Restart the shop"]),
    ]
    decision = match(rules, WEB, "shop", Status.CRITICAL)
    assert decision is not None and decision.steps == ("Note the time", "Restart the shop")


def test_a_status_only_rule_keeps_its_place():
    """A rule with only `status` is an ordinary rule: it decides where it stands."""
    rules = [
        rule("warnings", status=["warning"], severity="info"),
        rule("web", match={"category": "web"}, severity="critical"),
    ]
    decision = match(rules, WEB, "shop", Status.WARNING)
    assert decision is not None and decision.rules == ("warnings",)


def test_the_first_of_two_default_routes_decides():
    """Default routes keep their order among themselves: the first one is used."""
    rules = [rule("first", policy="a"), rule("second", policy="b")]
    decision = match(rules, WEB, "shop", Status.UNKNOWN)
    assert decision is not None and decision.rules == ("first",)
