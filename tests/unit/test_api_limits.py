"""The HTTP API's limits as pure functions and config: which Content-Types are JSON, where a
parsed body goes wrong, and the [daemon] header_timeout / max_connections keys."""

from __future__ import annotations

import pytest

from escalatord.api.body import MAX_DEPTH, BadBody, content_type_problem, parse, problem
from escalatord.config.loader import load_text
from escalatord.errors import ConfigError


@pytest.mark.parametrize(
    "value",
    [
        "application/json",
        "application/json; charset=utf-8",
        'application/json;charset="UTF-8"',
        "APPLICATION/JSON",
        "application/problem+json",
    ],
)
def test_json_content_types(value: str):
    """application/json (any case, UTF-8 charset or none) and +json types are JSON."""
    assert content_type_problem(value) is None


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (None, "none was sent"),
        ("text/plain", "'text/plain'"),
        ("application/jsonx", "'application/jsonx'"),
        ("application/json; charset=iso-8859-1", "charset=iso-8859-1"),
    ],
)
def test_other_content_types_name_what_was_sent(value: str | None, named: str):
    """Anything else is refused, naming what was sent and asking for application/json."""
    found = content_type_problem(value)
    assert found is not None and named in found and "application/json" in found


def test_problem_names_the_first_bad_string_by_its_path():
    """A lone surrogate is named by its path (indexes from 0, as everywhere), keys included,
    first in document order; with text=False only the depth is judged."""
    value = {"ok": ["a", "é"], "alerts": [{"labels": {"x": "y"}}, {"labels": {"team": "\ud800"}}]}
    assert problem(value) == (
        "alerts[1].labels.team: not Unicode text: a lone surrogate (\\ud800) at character 1; "
        "send UTF-8 text"
    )
    assert problem({"labels": {"\udc00": "x"}}, "alerts[1]") == (
        "alerts[1].labels: a key is not Unicode text: a lone surrogate (\\udc00) at character 1;"
        " send UTF-8 text"
    )
    assert problem(value, text=False) is None


def test_depth_is_bounded_at_max_depth():
    """MAX_DEPTH levels are fine, one more is refused, escaped brackets inside strings are not
    levels, and 100,000 '[' never reach the parser's recursion."""
    assert parse(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    assert parse(b'["' + b"[" * 100 + b'"]') == ["[" * 100]
    for raw in (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), b"[" * 100_000):
        with pytest.raises(BadBody, match="deeper than 32 levels"):
            parse(raw)


def test_surrogate_pairs_are_text():
    """An escaped surrogate pair is one character, not a problem."""
    assert parse(b'{"emoji": "\\ud83d\\ude00"}') == {"emoji": "\U0001f600"}


@pytest.mark.parametrize(
    ("daemon", "message"),
    [
        ('header_timeout = "0s"', 'header_timeout must be from "1s" to "5m"'),
        ('header_timeout = "1h"', 'header_timeout must be from "1s" to "5m"'),
        ("max_connections = 0", "max_connections must be 1 to 10000, got 0"),
    ],
)
def test_connection_limits_out_of_range_are_config_errors(daemon: str, message: str):
    """Out-of-range limits are refused, naming the key and the range."""
    with pytest.raises(ConfigError) as caught:
        load_text(f"[daemon]\n{daemon}\n", env={})
    [found] = caught.value.problems
    assert found.path == f"daemon.{daemon.split()[0]}" and message in found.message


def test_connection_limit_defaults():
    """Unset, a connection has 10 s to send its headers and 1024 may be open."""
    daemon = load_text("", env={}).daemon
    assert daemon.header_timeout.total_seconds() == 10 and daemon.max_connections == 1024
