"""JSON body assertions of the http check (`expect_json`): paths, comparisons, messages."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from escalatord.checks.http.json_assert import JsonAssertion, parse_path

DOC = {
    "status": "up",
    "checks": {"db": {"latency_ms": 12.5, "ok": True}},
    "queues": [{"depth": 3}, {"depth": 4000}],
    "tags": ["hl7", "adt"],
    "a.b": 1,
    "count": 1,
}


def failure(**keys: Any) -> str | None:
    return JsonAssertion.model_validate(keys).failure(DOC)


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("status", ["status"]),
        ("$.checks.db.ok", ["checks", "db", "ok"]),
        ("queues[1].depth", ["queues", 1, "depth"]),
        ('["a.b"]', ["a.b"]),
        ("$", []),
    ],
)
def test_paths(path: str, steps: list):
    """Dotted keys, [n] list items, ["quoted.keys"] and $ for the whole document."""
    assert parse_path(path) == steps


@pytest.mark.parametrize("path", ["", "a..b", ".a", "a.[0]", "a[x]"])
def test_bad_paths_are_refused_with_the_syntax(path: str):
    """A malformed path is a config error that explains the syntax."""
    with pytest.raises(ValidationError, match=r"keys separated by dots|it is empty"):
        JsonAssertion.model_validate({"path": path, "exists": True})


def test_an_assertion_needs_a_comparison():
    """A path alone asserts nothing: the config says which keys are possible."""
    with pytest.raises(ValidationError, match="at least one of equals"):
        JsonAssertion.model_validate({"path": "status"})


def test_passing_assertions():
    """Matching values, limits, containment and existence all pass."""
    assert failure(path="status", equals="up") is None
    assert failure(path="checks.db.latency_ms", lt=100, ge=0) is None
    assert failure(path="tags", contains="adt") is None
    assert failure(path="status", contains="u") is None
    assert failure(path="maintenance", exists=False) is None
    assert failure(path="checks.db.ok", equals=True, not_equals=False) is None


def test_failures_say_what_was_found_and_expected():
    """A failed assertion names the path, the value found and what was expected."""
    assert failure(path="status", equals="down") == 'status is "up", expected "down"'
    assert failure(path="queues[1].depth", le=1000) == "queues[1].depth is 4000, expected <= 1000"
    assert failure(path="missing.key", equals=1) == "missing.key is missing"
    assert failure(path="status", gt=1) == 'status is "up", not a number (expected > 1)'
    assert (
        failure(path="tags", contains="orm")
        == 'tags is ["hl7", "adt"], expected it to contain "orm"'
    )
    assert failure(path="status", exists=False) == 'status exists ("up"), expected it absent'


def test_json_true_is_not_one():
    """JSON `true` does not equal 1, nor 1 true (Python would say they are equal)."""
    assert failure(path="checks.db.ok", equals=1) is not None
    assert failure(path="count", equals=True) is not None
