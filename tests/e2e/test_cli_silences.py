"""`escalatord silence` as a real subprocess on the e2e config and its SQLite database: add,
list and remove with author and reason, and every error with its exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli_output import output
from tests.support.daemon import cli

pytestmark = pytest.mark.e2e


def ok(config: Path, *args: str) -> str:
    proc = cli(config, "silence", *args, check=False)
    assert proc.returncode == 0, output(proc)
    return proc.stdout


def refused(config: Path, code: int, *args: str) -> str:
    proc = cli(config, "silence", *args, check=False)
    assert proc.returncode == code, output(proc)
    return proc.stderr


def listed(config: Path, *args: str) -> list[dict]:
    return json.loads(ok(config, "list", "--json", *args))["silences"]


def test_add_list_and_remove_with_author_and_reason(config, database):
    """A silence added as alice is listed with its matchers and reason; removed by bob it
    leaves the current list and stays in --all with who removed it."""
    added = ok(config, "add", "--match", "category=web", "--for", "2h", "--reason", "deploy",
               "--as", "alice")  # fmt: skip
    assert added.startswith("silence 1 added: category=web until ") and "(alice: deploy)" in added
    ok(config, "add", "--check", "web-down", "--until", "+1h", "--reason", "swap")
    [first, second] = listed(config)
    assert first["match"] == {"category": "web"} and first["created_by"] == "alice"
    assert second["checks"] == ["web-down"] and second["reason"] == "swap"
    assert "2h" in ok(config, "list") or "1h" in ok(config, "list")
    assert "removed by bob" in ok(config, "remove", "1", "--as", "bob")
    assert [s["id"] for s in listed(config)] == [2]
    [gone] = [s for s in listed(config, "--all") if s["id"] == 1]
    assert gone["removed_by"] == "bob" and gone["removed_at"]


def test_an_empty_list_says_so(config, database):
    """With no silence the list says so (and JSON is an empty list)."""
    assert ok(config, "list").strip() == "no silences in force"
    assert listed(config) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["add", "--match", "category", "--for", "1h", "--reason", "r"], "not a label matcher"),
        (["add", "--for", "1h", "--reason", "r"], "say what to silence"),
        (["add", "--match", "a=b", "--reason", "r"], "say how long"),
        (
            ["add", "--match", "a=b", "--for", "1h", "--until", "+2h", "--reason", "r"],
            "say how long",
        ),
        (["add", "--match", "a=b", "--for", "soon", "--reason", "r"], "--for"),
        (["add", "--match", "a=b", "--for", "0s", "--reason", "r"], "longer than 0s"),
        (["add", "--match", "a=b", "--until", "tomorrow", "--reason", "r"], "is not a time"),
        (
            ["add", "--match", "a=b", "--until", "2020-01-01 10:00", "--reason", "r"],
            "already past",
        ),
        (["add", "--match", "a=b", "--for", "1h"], "--reason"),
        (["add", "--match", "a=b", "--for", "1h", "--reason", " "], "say why"),
        (["remove", "one"], "not a silence id"),
    ],
)
def test_usage_errors_exit_2(config, database, args, expected):
    """Each usage mistake exits 2 naming the option and the fix; nothing is stored."""
    assert expected in refused(config, 2, *args)
    assert listed(config, "--all") == []


def test_unknown_check_or_silence_exits_1(config, database):
    """An unknown --check names the configured checks; an unknown or removed id says so."""
    err = refused(config, 1, "add", "--check", "nope", "--for", "1h", "--reason", "r")
    assert "no check named 'nope'" in err and "web-down" in err
    assert "no silence 9" in refused(config, 1, "remove", "9")
    ok(config, "add", "--check", "web-down", "--for", "1h", "--reason", "r")
    ok(config, "remove", "1")
    assert "removed already" in refused(config, 1, "remove", "1")


def test_a_rejected_config_exits_2_and_no_database_exits_1(config, tmp_path):
    """A broken config is exit 2; a missing database is exit 1 and is not created."""
    assert "no database at" in refused(config, 1, "list")
    assert not (tmp_path / "escalatord.db").exists()
    config.write_text(config.read_text() + "\n[[maintenance]]\nname = 'w'\n")
    assert "maintenance[w]" in refused(config, 2, "list")
