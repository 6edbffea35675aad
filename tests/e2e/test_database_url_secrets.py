"""The database password as `escalatord` commands show it: a URL whose password holds an
unencoded '@' is refused by `check-config`, and a valid URL with encoded characters is shown
with its password masked wherever a command prints it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.support.cli_output import output
from tests.support.daemon import cli, free_port

pytestmark = pytest.mark.e2e


def config_with(tmp_path: Path, database: str) -> Path:
    path = tmp_path / "escalatord.toml"
    path.write_text(f'[daemon]\ndatabase = "{database}"\n')
    return path


def test_check_config_refuses_an_unencoded_at_sign_in_the_password(tmp_path):
    """`check-config` exits 2 naming the file and daemon.database, says to write '@' as %40,
    and prints no part of the password."""
    config = config_with(tmp_path, "postgresql://esc:p@SECRETPART@127.0.0.1:5432/escalatord")
    proc = cli(config, "check-config", check=False)
    assert proc.returncode == 2, output(proc)
    assert f"{config}: daemon.database: " in proc.stderr
    assert "%40" in proc.stderr
    assert "SECRETPART" not in output(proc) and "p@" not in output(proc)


def test_commands_mask_a_password_with_encoded_characters(tmp_path):
    """A command that cannot reach PostgreSQL names the URL with `escalatord:***@` and never
    the password, encoded or decoded; check-config accepts the URL."""
    password = "pa%40ss%2Fw0rd%3A9"
    port = free_port()  # nothing listens: the connection is refused at once
    config = config_with(
        tmp_path, f"postgresql://escalatord:{password}@127.0.0.1:{port}/escalatord"
    )
    assert cli(config, "check-config", check=False).returncode == 0
    proc = cli(config, "incidents", check=False)
    assert proc.returncode == 1, output(proc)
    assert f"postgresql://escalatord:***@127.0.0.1:{port}/escalatord" in proc.stderr
    for form in (password, unquote(password), "w0rd"):
        assert form not in output(proc)
