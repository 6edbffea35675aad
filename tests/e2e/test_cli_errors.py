"""The command line's own errors as a user meets them (a real subprocess): `check` answers
UNKNOWN (3) for every error of its own, as a monitoring plugin must, and the commands that read
the database refuse one that does not exist instead of creating it (only `run` creates it)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import programs
from tests.support.cli_output import output
from tests.support.daemon import DaemonProcess, cli, free_port

pytestmark = pytest.mark.e2e

UNKNOWN = 3
# Every command that opens the database, with arguments that would otherwise be valid.
STORE_COMMANDS = [
    ("incidents",),
    ("incidents", "--all", "--json"),
    ("ack", "1"),
    ("resolve", "1"),
    ("close", "1", "--note", "rebooted"),
    ("test-notify", "hook"),
]


def with_database(config: Path, url: str, listen: str = "") -> Path:
    """`config` (the conftest's) with [daemon] database set to `url` (and listen, if given)."""
    text = config.read_text()
    old = f'database = "sqlite:///{config.parent}/escalatord.db"'
    assert old in text
    new = f'database = "{url}"' + (f'\nlisten = "{listen}"' if listen else "")
    config.write_text(text.replace(old, new))
    return config


# ---- check: UNKNOWN for its own errors -----------------------------------------------------


def _directory(config: Path) -> Path:
    folder = config.parent / "conf-dir.toml"
    folder.mkdir()
    return folder


def _bad_toml(config: Path) -> Path:
    path = config.parent / "broken.toml"
    path.write_text('[daemon\ndatabase = "sqlite:///x.db"\n')
    return path


def _bad_key(config: Path) -> Path:
    path = config.parent / "bad-key.toml"
    path.write_text(config.read_text().replace("[defaults]", "[defaults]\ncolour = 'blue'"))
    return path


@pytest.mark.parametrize(
    ("make", "args", "said"),
    [
        (lambda c: c, ("web-nope",), "no check named 'web-nope'"),
        (lambda c: c.parent / "nowhere.toml", ("web-up",), "does not exist"),
        (_directory, ("web-up",), "cannot read the file: Is a directory"),
        (_bad_toml, ("web-up",), "TOML syntax error"),
        (_bad_key, ("web-up",), "defaults.colour: unknown key"),
        (lambda c: c, (), "Missing argument 'NAME'"),
        (lambda c: c, ("web-up", "--colour"), "No such option '--colour'"),
    ],
    ids=["unknown-name", "missing-config", "directory", "toml-syntax", "unknown-key", "no-name",
         "bad-option"],
)  # fmt: skip
def test_check_exits_unknown_for_its_own_errors(config, make, args, said):
    """`check` exits 3 (UNKNOWN), never 1 or 2, for an unknown check name, a missing, unreadable
    or invalid config, or a usage error, and says why on stderr and in one stdout line that
    starts `UNKNOWN:` (all that NRPE and Nagios show of a plugin)."""
    proc = cli(make(config), "check", *args, check=False)
    assert proc.returncode == UNKNOWN, output(proc)
    assert said in proc.stderr
    [status] = proc.stdout.splitlines()
    assert status.startswith("UNKNOWN: ") and said in status, output(proc)


def test_check_exits_unknown_when_the_config_cannot_be_read(config):
    """A config the user may not read makes `check` exit 3 naming the file and the reason."""
    config.chmod(0)
    prefix: list[str] = []
    if os.geteuid() == 0:
        # Root reads any file: run the command without the capabilities that let it.
        [setpriv] = programs.require("setpriv")
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"]
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "escalatord", "check", "web-up", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == UNKNOWN, output(proc)
    assert f"{config}: cannot read the file: Permission denied" in proc.stderr


# ---- the database: only `run` creates it ---------------------------------------------------


def test_commands_refuse_a_missing_sqlite_database_and_leave_nothing_behind(config, tmp_path):
    """Every command that opens the database exits 1 naming the missing file and the fix, and
    creates neither the file nor its directory; once `run` has made it, `incidents` answers."""
    missing = tmp_path / "var" / "lib" / "escalatord" / "escalatord.db"
    port = free_port()
    with_database(config, f"sqlite:///{missing}", listen=f"127.0.0.1:{port}")
    for args in STORE_COMMANDS:
        proc = cli(config, *args, check=False)
        assert proc.returncode == 1, (args, output(proc))
        assert proc.stdout == "", args
        assert f"there is no database at {missing}" in proc.stderr, args
        assert "escalatord run" in proc.stderr and "[daemon] database" in proc.stderr, args
    assert not (tmp_path / "var").exists()

    DaemonProcess(config, port, tmp_path / "daemon.log").start().stop()
    answered = cli(config, "incidents", check=False)
    assert answered.returncode == 0, output(answered)
    assert answered.stdout.strip() == "no open incidents"


def test_commands_refuse_a_sqlite_file_without_escalatords_tables(config, tmp_path):
    """A SQLite file that is not escalatord's database (no tables) is refused, not filled."""
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()  # an empty database file, as `sqlite3 other.db` leaves
    with_database(config, f"sqlite:///{other}")
    proc = cli(config, "incidents", check=False)
    assert proc.returncode == 1, output(proc)
    assert "has none of escalatord's tables" in proc.stderr and "escalatord run" in proc.stderr
    with sqlite3.connect(other) as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_commands_refuse_a_postgresql_database_without_escalatords_tables(
    config, pg_cluster, tmp_path
):
    """On PostgreSQL a database without escalatord's tables is refused the same way (exit 1,
    nothing created); once `run` has created them, `incidents` answers."""
    url = pg_cluster.create_database()
    port = free_port()
    with_database(config, url, listen=f"127.0.0.1:{port}")
    for args in (("incidents",), ("ack", "1")):
        proc = cli(config, *args, check=False)
        assert proc.returncode == 1, (args, output(proc))
        assert "has none of escalatord's tables" in proc.stderr, args
        assert url.rsplit("/", 1)[1] in proc.stderr and "escalatord run" in proc.stderr, args

    DaemonProcess(config, port, tmp_path / "daemon.log").start().stop()
    answered = cli(config, "incidents", check=False)
    assert answered.returncode == 0, output(answered)
    assert answered.stdout.strip() == "no open incidents"
