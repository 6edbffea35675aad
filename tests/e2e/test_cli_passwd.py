"""`escalatord passwd PERSON` as a real subprocess: the TOML line it prints verifies with argon2
and loads as the person's password_hash; weak passwords are refused."""

from __future__ import annotations

import subprocess
import sys

import pytest
from argon2 import PasswordHasher

from escalatord.config.loader import load_text

pytestmark = pytest.mark.e2e


def passwd(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "escalatord", "passwd", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_passwd_stdin_prints_a_line_that_verifies_and_loads():
    """--stdin prints one `password_hash = "$argon2id$..."` line whose hash verifies the password
    and which a [[person]] block accepts."""
    done = passwd("alice", "--stdin", stdin="correct horse battery\n")
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith('password_hash = "$argon2id$')
    digest = line.split('"')[1]
    assert PasswordHasher().verify(digest, "correct horse battery")
    assert "[[person]]" in done.stderr and "alice" in done.stderr
    config = load_text(f'[[person]]\nname = "alice"\n{line}\n')
    assert config.persons[0].password_hash == digest


@pytest.mark.parametrize("given", ["\n", "short\n", ""])
def test_passwd_refuses_an_empty_or_short_password(given):
    """An empty or too short password exits 2 with the minimum length and prints no hash."""
    done = passwd("alice", "--stdin", stdin=given)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "at least 10 characters" in done.stderr


def test_passwd_prompts_twice_and_asks_again_when_they_differ():
    """Without --stdin the password is asked twice without echo; two entries that differ are
    asked for again, and the line printed is for the confirmed one."""
    from click.testing import CliRunner

    from escalatord.cli import main

    typed = "first password 1\nanother one 22\ncorrect horse battery\ncorrect horse battery\n"
    done = CliRunner().invoke(main, ["passwd", "alice"], input=typed)
    assert done.exit_code == 0, done.output
    assert "do not match" in done.output
    assert "correct horse battery" not in done.output  # hidden input is not echoed
    line = next(x for x in done.output.splitlines() if x.startswith("password_hash = "))
    assert PasswordHasher().verify(line.split('"')[1], "correct horse battery")
