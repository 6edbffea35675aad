"""What every command of the command line shares: the `--config` option, loading the config,
opening the store, running a coroutine, and failing with the right exit code.

These are the command line's own ways out of the process (cli.py's docstring lists the exit
codes); nothing below the command line exits.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, NoReturn, TypeVar

import click

from escalatord import loop
from escalatord.errors import ConfigError, EscalatordError

if TYPE_CHECKING:
    from escalatord.config.model import Config
    from escalatord.core.oncall import Override
    from escalatord.store.db import Store

DEFAULT_CONFIG = "/etc/escalatord/escalatord.toml"
SHOW_NAMES = 10  # an unknown-name error lists at most this many configured names
UNKNOWN = 3  # a monitoring plugin's UNKNOWN: `check` exits with it for its own errors
T = TypeVar("T")
config_option = click.option(
    "--config",
    "config_path",
    envvar="ESCALATORD_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    help="Main TOML file (or $ESCALATORD_CONFIG).",
)


def load_config(path: str, code: int = 2) -> Config:
    """The config at `path`, or exit `code` listing every problem."""
    if not os.path.exists(path):
        # The commonest first mistake (no --config, nothing at the default path): one line
        # that says how to point at the file, not a one-item problem list.
        fail(
            [
                f"error: config file {path} does not exist; "
                "give its path with --config PATH or $ESCALATORD_CONFIG"
            ],
            code,
        )
    from escalatord.config.loader import load

    try:
        return load(path)
    except ConfigError as exc:
        summary = f"config rejected: {len(exc.problems)} problem(s)"
        first = f"{summary}, the first: {exc.problems[0]}" if exc.problems else summary
        fail([*map(str, exc.problems), summary], code, status=first)


def run_async(coro: Awaitable[T], code: int = 1) -> T:
    """Run `coro` to its end; exit `code` with the message of an EscalatordError."""
    try:
        return loop.run(coro)
    except EscalatordError as exc:
        fail([f"error: {exc}"], code)


def fail(lines: list[str], code: int, status: str | None = None) -> NoReturn:
    """Print `lines` on stderr and exit `code`. For `check` (code UNKNOWN) a status line also
    goes to stdout, `UNKNOWN: …` (the first line, or `status`): a monitoring plugin's first
    line of stdout is all that NRPE and Nagios show."""
    for line in lines:
        click.echo(line, err=True)
    if code == UNKNOWN:
        click.echo(f"UNKNOWN: {status or lines[0].removeprefix('error: ')}")
    sys.exit(code)


def who() -> str:
    """Who is at the keyboard, for the timeline: the sudo caller, the login name, or the uid."""
    try:
        return os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):
        # A container user with no passwd entry and no $USER: getuser() raises.
        return f"uid {os.getuid()}"


def unknown_name(kind: str, name: str, known: list[str], where: str, code: int = 1) -> NoReturn:
    """Exit `code` saying `name` is not configured, and which names are."""
    shown = ", ".join(sorted(known)[:SHOW_NAMES]) or "none"
    if len(known) > SHOW_NAMES:
        shown += f" and {len(known) - SHOW_NAMES} more"
    fail([f"error: no {kind} named {name!r} in {where} (configured: {shown})"], code)


async def with_store(config: Config, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the config's database (never creating it), run `work` on it, close it."""
    from escalatord.store.db import Store

    # create=False: a wrong path must be reported, not answered from a new empty database.
    store = Store(config.daemon.database, create=False)
    await store.open()
    try:
        return await work(store)
    finally:
        await store.close()


def stored_overrides(
    config: Config, start: datetime, end: datetime
) -> Mapping[str, Sequence[Override]]:
    """The stored overrides of each schedule in force in [start, end), or {} with a note when
    the database cannot be read (lint and plan must still work on a machine without one)."""
    if not config.schedules:
        return {}

    async def read(store: Store) -> Mapping[str, Sequence[Override]]:
        from escalatord.people.overrides import in_force

        async with store.read() as conn:
            return await in_force(conn, [s.name for s in config.schedules], start, end)

    try:
        return loop.run(with_store(config, read))
    except EscalatordError as exc:
        click.echo(
            f"note: stored run-time overrides not counted ({exc}); using the config alone",
            err=True,
        )
        return {}
