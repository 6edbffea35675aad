"""`escalatord passwd PERSON`: the `password_hash` line a person signs in to the console with.

    $ escalatord passwd alice
    New password for alice:
    Repeat for confirmation:
    password_hash = "$argon2id$v=19$m=65536,t=3,p=4$..."

    $ printf '%s\\n' "$PASSWORD" | escalatord passwd alice --stdin   # for scripts

The line goes to standard output, to paste into the person's `[[person]]` block; where to put
it goes to standard error. The config file is not edited (it may be generated, templated or
under version control), nor read: the person may not be in it yet.

The hash is argon2id with argon2-cffi's recommended parameters (RFC 9106's low-memory profile).
Exit codes: 0 printed; 2 an empty or too short password, two entries that differ, or an empty
standard input with --stdin.
"""

from __future__ import annotations

import sys

import click

from escalatord.commands.common import fail

MIN_LENGTH = 10  # a console that pages people is worth more than a short password


def _refused(password: str) -> str | None:
    if not password.strip():
        return "the password is empty"
    if len(password) < MIN_LENGTH:
        return f"the password is shorter than {MIN_LENGTH} characters"
    return None


def hash_line(password: str) -> str:
    """The TOML line for `password`: `password_hash = "$argon2id$..."` (no escaping needed:
    an argon2 string is base64 and `$,=` only)."""
    from argon2 import PasswordHasher

    return f'password_hash = "{PasswordHasher().hash(password)}"'


@click.command("passwd")
@click.argument("person")
@click.option(
    "--stdin",
    "from_stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts); no prompt.",
)
def passwd(person: str, from_stdin: bool) -> None:
    """Print the password_hash line for PERSON's [[person]] block (the web console's sign-in)."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if password.endswith("\r"):
            password = password[:-1]
    else:
        password = click.prompt(
            f"New password for {person}",
            hide_input=True,
            confirmation_prompt="Repeat for confirmation",
            err=True,
        )
    if problem := _refused(password):
        fail([f"error: {problem}; choose one of at least {MIN_LENGTH} characters"], 2)
    click.echo(hash_line(password))
    click.echo(
        f"paste this line into the [[person]] block with name = {person!r}, then reload the "
        "daemon's config (SIGHUP, systemctl reload escalatord)",
        err=True,
    )
