"""`escalatord silence`: run-time silences, stored in the database (quiet/silences.py).

    escalatord silence add --match k=v… [--check NAME…] --for DUR | --until TIME --reason TEXT
                           [--as P]
    escalatord silence list [--all] [--json]
    escalatord silence remove ID [--as P]

A silenced check still runs and keeps its state, but opens no incident and its open incident
pages no further level until the silence ends (docs/quiet.md). The daemon reads the stored
silences, so these commands work while it runs, from another process. TIME is read as
commands/times.py says, a wall time in this machine's time zone.

Exit codes, as the other commands: 0 done; 1 an unknown check or silence id, or no database
at the configured path; 2 a usage error (a --match without "=", neither --match nor --check,
both or neither of --for and --until, a duration or TIME that does not parse, an end already
past, no --reason) or a rejected config.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click
import tzlocal

from escalatord.commands.common import (
    DEFAULT_CONFIG,
    load_config,
    run_async,
    unknown_name,
    who,
    with_store,
)
from escalatord.commands.times import parse_time, shown
from escalatord.core.durations import format_duration, parse_duration
from escalatord.core.quiet import Cover

if TYPE_CHECKING:
    from escalatord.config.model import Config
    from escalatord.quiet.silences import StoredSilence
    from escalatord.store.db import Store

config_option = click.option(
    "--config",
    "config_path",
    envvar="ESCALATORD_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    help="Main TOML file (or $ESCALATORD_CONFIG).",
)


@click.group(short_help="Silence checks for a while: add, list, remove.")
def silence() -> None:
    """Run-time silences: matched checks run but open no incident and page nobody.

    \b
    escalatord silence add --match site=boston --for 2h --reason "fibre works" [--as alice]
    escalatord silence add --check router-a --until "2026-12-24 18:00" --reason "swap"
    escalatord silence list [--all] [--json]
    escalatord silence remove ID [--as P]
    """


def _matchers(values: tuple[str, ...]) -> dict[str, str | tuple[str, ...]]:
    found: dict[str, str | tuple[str, ...]] = {}
    for value in values:
        key, sep, wanted = value.partition("=")
        if not sep or not key.strip() or not wanted:
            raise click.BadParameter(
                f"{value!r} is not a label matcher: write LABEL=VALUE, e.g. --match site=boston "
                "(repeat --match for more labels; a value may list alternatives: a|b)",
                param_hint="'--match'",
            )
        parts = tuple(wanted.split("|"))
        found[key.strip()] = parts[0] if len(parts) == 1 else parts
    return found


def _end(for_text: str | None, until_text: str | None, now: datetime) -> datetime:
    if (for_text is None) == (until_text is None):
        raise click.UsageError(
            "say how long: give --for DURATION (e.g. --for 2h) or --until TIME (e.g. --until "
            '"2026-12-24 18:00"), one of the two'
        )
    if for_text is not None:
        try:
            length = parse_duration(for_text)
        except ValueError as exc:
            raise click.BadParameter(f"{exc}; e.g. --for 2h", param_hint="'--for'") from None
        if length <= timedelta(0):
            raise click.BadParameter("must be longer than 0s, e.g. --for 2h", param_hint="'--for'")
        return now + length
    assert until_text is not None
    try:
        end = parse_time(until_text).instant(tzlocal.get_localzone(), now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--until'") from None
    if end <= now:
        raise click.BadParameter(
            f"{until_text!r} ({shown(end, tzlocal.get_localzone())}) is already past: give a "
            'later --until, e.g. --until "+2h"',
            param_hint="'--until'",
        )
    return end


def describe(row: StoredSilence) -> str:
    """One line: what it covers, until when, who and why."""
    zone = tzlocal.get_localzone()
    return f"{row.cover.describe()} until {shown(row.end, zone)} ({row.created_by}: {row.reason})"


@silence.command(short_help="Silence the matched checks for a while.")
@config_option
@click.option("--match", "matches", multiple=True, metavar="K=V", help="Label matcher.")
@click.option("--check", "checks", multiple=True, metavar="NAME", help="A check by name.")
@click.option("--for", "for_text", metavar="DURATION", help='How long, e.g. "2h".')
@click.option("--until", "until_text", metavar="TIME", help='Until when, e.g. "+2h".')
@click.option("--reason", required=True, help="Why: stored and shown on the timeline.")
@click.option("--as", "as_name", metavar="P", help="Who adds it (default: your login).")
def add(
    config_path: str, matches: tuple[str, ...], checks: tuple[str, ...], for_text: str | None,
    until_text: str | None, reason: str, as_name: str | None,
) -> None:  # fmt: skip
    """Silence the checks matching every --match (labels, as rules match them) or named by
    --check, from now for --for or until --until. Their open incidents say so."""
    match = _matchers(matches)
    if not match and not checks:
        raise click.UsageError(
            "say what to silence: --match LABEL=VALUE (e.g. --match site=boston) or --check NAME"
        )
    if not reason.strip():
        raise click.BadParameter("say why, e.g. --reason 'fibre works'", param_hint="'--reason'")
    now = datetime.now(UTC)
    end = _end(for_text, until_text, now)
    config = load_config(config_path)
    for name in checks:
        if name not in config.check_by_name:
            unknown_name("check", name, list(config.check_by_name), config_path)
    cover = Cover(match, {}, tuple(dict.fromkeys(checks)))

    async def write(store: Store) -> StoredSilence:
        from escalatord.quiet import silences

        async with store.write() as conn:
            return await silences.add(
                conn, cover, now, end, reason=reason, now=now, by=as_name or who()
            )

    row = run_async(with_store(config, write))
    click.echo(f"silence {row.id} added: {describe(row)}")


@silence.command(name="list", short_help="List silences (in force or to come, or --all).")
@config_option
@click.option("--all", "everything", is_flag=True, help="Include ended and removed ones.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(config_path: str, everything: bool, as_json: bool) -> None:
    """The silences in force or still to come, by start; --all adds ended and removed ones."""
    config = load_config(config_path)
    now = datetime.now(UTC)
    rows = run_async(with_store(config, lambda store: _listed(store, now, everything)))
    if as_json:
        click.echo(json.dumps({"silences": [row.to_json() for row in rows]}, indent=2))
        return
    if not rows:
        click.echo("no silences" if everything else "no silences in force")
        return
    for row in rows:
        state = ""
        if row.removed_at is not None:
            state = f" [removed by {row.removed_by}]"
        elif row.end <= now:
            state = " [ended]"
        else:
            state = f" [{format_duration(row.end - now)} left]"
        click.echo(f"{row.id:>4}  {describe(row)}{state}")


async def _listed(store: Store, now: datetime, everything: bool) -> list[StoredSilence]:
    from escalatord.quiet import silences

    async with store.read() as conn:
        return await silences.listed(conn, now=now, everything=everything)


@silence.command(short_help="End a silence now.")
@config_option
@click.argument("silence_id", metavar="ID")
@click.option("--as", "as_name", metavar="P", help="Who removes it (default: your login).")
def remove(config_path: str, silence_id: str, as_name: str | None) -> None:
    """End silence ID now; its row is kept for the record (`silence list --all`)."""
    if not silence_id.isdigit():
        raise click.BadParameter(
            f"{silence_id!r} is not a silence id: give the number `silence list` shows, "
            "e.g. `silence remove 7`",
            param_hint="'ID'",
        )
    config: Config = load_config(config_path)

    async def write(store: Store) -> StoredSilence:
        from escalatord.quiet import silences

        async with store.write() as conn:
            return await silences.remove(
                conn, int(silence_id), now=datetime.now(UTC), by=as_name or who()
            )

    row = run_async(with_store(config, write))
    click.echo(f"silence {row.id} removed by {row.removed_by}: {describe(row)}")
