"""Every error of `escalatord oncall` as a real subprocess: its message (naming the option, an
example, or the configured names) and its exit code: 2 for a usage error or a rejected config,
1 for an unknown schedule, person or override id and for a missing database, as the other
commands exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli_output import output
from tests.support.daemon import cli
from tests.support.oncall import oncall_config

pytestmark = pytest.mark.e2e


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Persons alice, bob, dave, erin, frank; schedules berlin, daily and desk."""
    return oncall_config(tmp_path)


TIME_FORMS = '"2026-03-29 09:00" (in the schedule\'s time zone), "2026-03-29 09:00+02:00"'


def fails(config: Path, *args: str, code: int) -> str:
    proc = cli(config, "oncall", *args, check=False)
    assert proc.returncode == code, output(proc)
    assert proc.stdout == "", output(proc)
    return proc.stderr


@pytest.mark.parametrize(
    ("args", "option", "why"),
    [
        (("--at", "tomorrow"), "--at", "'tomorrow' is not a time"),
        (("--at", "2026-03-29"), "--at", "'2026-03-29' needs a time of day"),
        (("--at", "2026-02-30 09:00"), "--at", "is not a valid date and time (day is out of"),
        (("--at", "+2x"), "--at", "invalid duration '2x'"),
        (("show", "berlin", "--from", "noon"), "--from", "'noon' is not a time"),
        (
            ("override", "berlin", "--person", "erin", "--from", "xmas", "--until", "+1d"),
            "--from",
            "'xmas' is not a time",
        ),
        (
            ("override", "berlin", "--person", "erin", "--from", "now", "--until", "31/12"),
            "--until",
            "'31/12' is not a time",
        ),
    ],
)
def test_a_bad_time_names_the_option_and_the_forms(config, database, args, option, why):
    """A TIME that does not parse is a usage error (2) naming the option, what is wrong and
    the forms a TIME takes."""
    err = fails(config, *args, code=2)
    assert f"Invalid value for '{option}'" in err
    assert why in err and TIME_FORMS in err


@pytest.mark.parametrize(
    "args",
    [
        ("--schedule", "nope"),
        ("show", "nope"),
        ("overrides", "nope"),
        ("override", "nope", "--person", "erin", "--from", "now", "--until", "+1h"),
    ],
)
def test_an_unknown_schedule_lists_the_configured_ones(config, database, args):
    """A schedule that is not configured exits 1 naming the configured schedules."""
    err = fails(config, *args, code=1)
    assert f"error: no schedule named 'nope' in {config} (configured: berlin, daily, desk)" in err


def test_an_unknown_person_lists_the_configured_ones(config, database):
    """An override for a person who is not configured exits 1 naming the configured persons."""
    err = fails(
        config, "override", "berlin", "--person", "zoe", "--from", "now", "--until", "+1h", code=1
    )
    assert f"no person named 'zoe' in {config} (configured: alice, bob, dave, erin, frank)" in err


def test_until_must_be_after_from_and_still_to_come(config, database):
    """--until not after --from, or already past, is a usage error (2) naming --until, both
    times in the schedule's zone and an example; nothing is stored."""
    err = fails(
        config, "override", "berlin", "--person", "erin",
        "--from", "2031-07-01 14:00", "--until", "2031-07-01 14:00", code=2,
    )  # fmt: skip
    assert "Invalid value for '--until'" in err
    assert (
        "'2031-07-01 14:00' (Tue 2031-07-01 14:00 CEST) must be later than --from "
        "'2031-07-01 14:00' (Tue 2031-07-01 14:00 CEST)" in err
    )
    assert '--from "2026-12-24 18:00" --until "2026-12-27 09:00"' in err
    err = fails(
        config, "override", "berlin", "--person", "erin", "--from", "2026-03-01 08:00",
        "--until", "2026-03-01 09:00", code=2,
    )  # fmt: skip
    assert "Invalid value for '--until'" in err and "is already past" in err
    assert cli(config, "oncall", "overrides", "--all").stdout == "no overrides\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("override", "berlin", "--from", "now", "--until", "+1h"), "Missing option '--person'"),
        (
            ("override", "berlin", "--person", "erin"),
            "Missing option '--from' (--from \"2026-12-24 18:00\"), '--until'",
        ),
        (("override", "remove"), "give the id of the override to remove"),
        (("override", "remove", "seven"), "'seven' is not an override id"),
        (("override", "remove", "7", "--person", "erin"), "takes no other option"),
        (("override", "berlin", "7"), "got an unexpected extra argument (7)"),
        (("--json", "show", "berlin"), "options of `oncall` alone"),
        (("show", "berlin", "--weeks", "0"), "Invalid value for '--weeks'"),
        (("show",), "Missing argument 'S'"),
    ],
)
def test_usage_errors_exit_2_saying_what_to_write(config, database, args, message):
    """A missing option or argument, a remove without a numeric id, an extra argument, a
    group option before a subcommand and --weeks out of range exit 2 with the usage line."""
    err = fails(config, *args, code=2)
    assert message in err
    assert err.startswith("Usage: python -m escalatord oncall")


def test_removing_an_unknown_override_exits_1(config, database):
    """`override remove ID` for an id that is not stored exits 1 saying how to list them."""
    err = fails(config, "override", "remove", "999", code=1)
    assert "error: no rota override 999; `escalatord oncall overrides` lists them" in err


def test_a_missing_database_or_config_is_named(config, tmp_path):
    """With no database at the configured path every oncall command exits 1 naming it and the
    fix (stored overrides could not be consulted); a missing config file exits 2."""
    for args in (("--schedule", "berlin"), ("show", "berlin"), ("overrides",)):
        err = fails(config, *args, code=1)
        assert f"there is no database at {tmp_path}/escalatord.db" in err
        assert "start the daemon once with `escalatord run`" in err
    assert not (tmp_path / "escalatord.db").exists()
    err = fails(tmp_path / "missing.toml", code=2)
    assert f"config file {tmp_path}/missing.toml does not exist" in err


def test_a_config_without_schedules_says_so(tmp_path):
    """A config without [[schedule]] answers that there is none (exit 0, JSON an empty list)."""
    path = tmp_path / "escalatord.toml"
    path.write_text(f'[daemon]\ndatabase = "sqlite:///{tmp_path}/none.db"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "escalatord", "oncall", "--config", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, output(proc)
    assert proc.stdout == f"no [[schedule]] in {path} (docs/people.md shows how to add one)\n"
    assert cli(path, "oncall", "--json").stdout == "[]\n"
