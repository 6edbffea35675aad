"""`escalatord oncall`: who is on call, the rota, and run-time overrides.

    escalatord oncall [--schedule S] [--at TIME] [--json]
    escalatord oncall show S [--weeks 4] [--from TIME] [--json]
    escalatord oncall override S --person P --from TIME --until TIME [--as NAME]
    escalatord oncall override remove ID
    escalatord oncall overrides [S] [--all] [--json]

Answers come from the config's [[schedule]]s and the overrides stored in the database, resolved
by core/oncall.py as the daemon resolves them when a level fires. A TIME is read as
commands/times.py says: a wall time is read in each schedule's own zone.

Exit codes, as the other commands: 0 done; 1 an unknown schedule, person or override id (named
with the configured ones, as `test-notify` names notifiers), or no database at the configured
path; 2 a usage error (a TIME that does not parse, `--until` not after `--from` or already
past, a missing option) or a rejected config.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from escalatord.commands import rota_views as views
from escalatord.commands.common import (
    DEFAULT_CONFIG,
    config_option,
    load_config,
    run_async,
    unknown_name,
    who,
    with_store,
)
from escalatord.commands.times import TimeSpec, parse_time, shown
from escalatord.core.oncall import HORIZON, Override, decide, next_change, rota
from escalatord.core.timewindows import local_instant

if TYPE_CHECKING:
    from escalatord.config.model import Config
    from escalatord.config.people import ScheduleConfig
    from escalatord.people.overrides import StoredOverride
    from escalatord.store.db import Store

MAX_WEEKS = 52
# Given after a subcommand (`oncall show S --config …`); without it, the group's --config
# (or $ESCALATORD_CONFIG, or the default) is used.
sub_config_option = click.option(
    "--config",
    "config_path",
    default=None,
    metavar="TEXT",
    help=f"Main TOML file (or $ESCALATORD_CONFIG; default: {DEFAULT_CONFIG}).",
)


def _time(option: str, text: str) -> TimeSpec:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=f"'{option}'") from None


def _config(ctx: click.Context, given: str | None) -> tuple[Config, str]:
    """The config a subcommand reads: its own --config, else the one `oncall` was given."""
    path = given or (ctx.parent.params.get("config_path") if ctx.parent else None)
    path = path or DEFAULT_CONFIG
    return load_config(path), path


def _schedule(config: Config, name: str, where: str) -> ScheduleConfig:
    found = config.schedule_by_name.get(name)
    if found is None:
        unknown_name("schedule", name, list(config.schedule_by_name), where)
    return found


async def _stored(
    store: Store, schedule: str | None, after: datetime | None
) -> list[StoredOverride]:
    from escalatord.people import overrides

    async with store.read() as conn:
        return await overrides.listed(conn, schedule=schedule, after=after)


def _in_force(
    stored: list[StoredOverride], schedule: str, start: datetime, end: datetime
) -> tuple[list[StoredOverride], tuple[Override, ...]]:
    """The stored overrides of `schedule` overlapping [start, end), in the order added: where
    they overlap the last one added wins (core/oncall.py, people/overrides.in_force)."""
    rows = sorted(
        (r for r in stored if r.schedule == schedule and r.start < end and r.end > start),
        key=lambda r: r.id,
    )
    return rows, tuple(r.override() for r in rows)


@click.group(
    invoke_without_command=True, short_help="Who is on call, the rota, run-time overrides."
)
@config_option
@click.option("--schedule", "schedule_name", metavar="S", help="Only this schedule.")
@click.option(
    "--at",
    "at_text",
    metavar="TIME",
    help='When: "2026-03-29 09:00" (the schedule\'s zone), with "+02:00" or "Z", "now" '
    '(default), "+2h" or "in 2h".',
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def oncall(
    ctx: click.Context, config_path: str, schedule_name: str | None, at_text: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Who is on call now (or at TIME) in each schedule, and until when.

    Config overrides and stored ones (`oncall override`) count, as when a page goes out. Times
    are shown in each schedule's own time zone, which is named. docs/people.md explains rotas.

    \b
    escalatord oncall [--schedule S] [--at TIME] [--json]
    escalatord oncall show S [--weeks 4] [--from TIME] [--json]
    escalatord oncall override S --person P --from TIME --until TIME [--as NAME]
    escalatord oncall override remove ID
    escalatord oncall overrides [S] [--all] [--json]
    """
    if ctx.invoked_subcommand is not None:
        if schedule_name or at_text or as_json:
            raise click.UsageError(
                "--schedule, --at and --json are options of `oncall` alone; give a "
                "subcommand's options after its name, e.g. `oncall show S --json`",
                ctx,
            )
        return
    at_spec = _time("--at", at_text or "now")
    config = load_config(config_path)
    if schedule_name is not None:
        schedules = [_schedule(config, schedule_name, config_path)]
    else:
        schedules = list(config.schedules)
    if not schedules:
        if as_json:
            click.echo("[]")
        else:
            click.echo(f"no [[schedule]] in {config_path} (docs/people.md shows how to add one)")
        return
    now = datetime.now(UTC)
    instants = [at_spec.instant(s.zone, now) for s in schedules]
    stored = run_async(with_store(config, lambda store: _stored(store, None, min(instants))))
    answers = []
    for schedule, at in zip(schedules, instants, strict=True):
        rows, runtime = _in_force(stored, schedule.name, at, at + HORIZON)
        pure = schedule.rota()
        decision = decide(pure, at, runtime)
        until = next_change(pure, at, runtime)
        by = views.decided_by(schedule, decision, rows)
        answers.append((schedule, at, decision, until, by))
    views.now_rows(config, answers, as_json, with_at=at_text is not None)


@oncall.command(short_help="The rota of S as segments, in its time zone.")
@sub_config_option
@click.argument("schedule_name", metavar="S")
@click.option(
    "--weeks",
    type=click.IntRange(1, MAX_WEEKS),
    default=4,
    show_default=True,
    help="How many weeks to show.",
)
@click.option(
    "--from", "from_text", metavar="TIME", help='Start (default "now"); a TIME as for --at.'
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show(
    ctx: click.Context, config_path: str | None, schedule_name: str, weeks: int,
    from_text: str | None, as_json: bool,
) -> None:  # fmt: skip
    """The rota of schedule S as segments: from, until, who (in the schedule's time zone)."""
    from_spec = _time("--from", from_text or "now")
    config, where = _config(ctx, config_path)
    schedule = _schedule(config, schedule_name, where)
    start = from_spec.instant(schedule.zone, datetime.now(UTC))
    # Whole weeks on the wall clock: 4 weeks from a Monday 09:00 end on a Monday 09:00,
    # whatever DST does in between.
    wall = start.astimezone(schedule.zone).replace(tzinfo=None)
    end = local_instant(wall + timedelta(weeks=weeks), schedule.zone)
    stored = run_async(with_store(config, lambda store: _stored(store, schedule.name, start)))
    _rows, runtime = _in_force(stored, schedule.name, start, end)
    found = rota(schedule.rota(), start, end, runtime)
    views.segments(config, schedule, found, start, end, as_json)


class _OverrideCommand(click.Command):
    """`override S --person …` adds, `override remove ID` removes: one usage line for both."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["(S --person P --from TIME --until TIME [--as NAME] | remove ID)"]


@oncall.command(cls=_OverrideCommand, short_help="Store a run-time override, or remove one.")
@sub_config_option
@click.argument("schedule_name", metavar="S")
@click.argument("override_id", metavar="ID", required=False)
@click.option("--person", metavar="P", help="Who is on call during the override.")
@click.option("--from", "from_text", metavar="TIME", help="When it starts (a TIME as for --at).")
@click.option("--until", "until_text", metavar="TIME", help="When it ends (excluded).")
@click.option(
    "--as", "as_name", metavar="NAME", help="Who adds it, for the record (default: your login)."
)
@click.pass_context
def override(
    ctx: click.Context, config_path: str | None, schedule_name: str, override_id: str | None,
    person: str | None, from_text: str | None, until_text: str | None, as_name: str | None,
) -> None:  # fmt: skip
    """Put person P on call in schedule S from TIME until TIME, above every layer and the
    config's overrides; prints the stored override's id. `override remove ID` deletes one
    (`oncall overrides` lists them)."""
    if override_id is not None or (schedule_name == "remove" and person is None):
        _remove(ctx, config_path, schedule_name, override_id, person, from_text, until_text)
        return
    missing = [
        f"'{option}' ({example})"
        for option, value, example in (
            ("--person", person, "--person alice"),
            ("--from", from_text, '--from "2026-12-24 18:00"'),
            ("--until", until_text, '--until "2026-12-27 09:00"'),
        )
        if value is None
    ]
    if missing:
        raise click.UsageError(f"Missing option {', '.join(missing)}.", ctx)
    assert person is not None and from_text is not None and until_text is not None
    from_spec, until_spec = _time("--from", from_text), _time("--until", until_text)
    config, where = _config(ctx, config_path)
    schedule = _schedule(config, schedule_name, where)
    if person not in config.person_by_name:
        unknown_name("person", person, list(config.person_by_name), where)
    now = datetime.now(UTC)
    start, end = from_spec.instant(schedule.zone, now), until_spec.instant(schedule.zone, now)
    if end <= start:
        raise click.BadParameter(
            f"{until_text!r} ({shown(end, schedule.zone)}) must be later than --from "
            f"{from_text!r} ({shown(start, schedule.zone)}): the override runs from --from "
            'until --until, e.g. --from "2026-12-24 18:00" --until "2026-12-27 09:00"',
            param_hint="'--until'",
        )
    if end <= now:
        raise click.BadParameter(
            f"{until_text!r} ({shown(end, schedule.zone)}) is already past: the override "
            'would never be in force; give a later --until, e.g. --until "+8h"',
            param_hint="'--until'",
        )

    async def add(store: Store) -> StoredOverride:
        from escalatord.people import overrides

        async with store.write() as conn:
            return await overrides.add(
                conn, schedule.name, person, start, end, now=now, by=as_name or who()
            )

    row = run_async(with_store(config, add))
    click.echo(f"override {row.id} added: {views.override_text(config, row)}")


def _remove(
    ctx: click.Context, config_path: str | None, word: str, override_id: str | None,
    *extra: str | None,
) -> None:  # fmt: skip
    if word != "remove":
        raise click.UsageError(
            f"got an unexpected extra argument ({override_id}): add an override with "
            "`oncall override S --person P --from TIME --until TIME`, or remove one with "
            "`oncall override remove ID`",
            ctx,
        )
    if override_id is None:
        raise click.UsageError(
            "give the id of the override to remove: `oncall override remove ID` "
            "(`oncall overrides` lists them)",
            ctx,
        )
    if any(value is not None for value in extra):
        raise click.UsageError("`oncall override remove ID` takes no other option", ctx)
    if not override_id.isdigit():
        raise click.BadParameter(
            f"{override_id!r} is not an override id: give the number `oncall overrides` shows "
            "in its ID column, e.g. `oncall override remove 7`",
            param_hint="'ID'",
        )
    config, _where = _config(ctx, config_path)

    async def remove(store: Store) -> StoredOverride:
        from escalatord.people import overrides

        async with store.write() as conn:
            return await overrides.remove(conn, int(override_id))

    row = run_async(with_store(config, remove))
    click.echo(f"override {row.id} removed: {views.override_text(config, row)}")


@oncall.command(short_help="List stored overrides (still to end, or --all).")
@sub_config_option
@click.argument("schedule_name", metavar="[S]", required=False)
@click.option("--all", "include_all", is_flag=True, help="Include overrides that have ended.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def overrides(
    ctx: click.Context, config_path: str | None, schedule_name: str | None, include_all: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """The stored overrides (of schedule S) still to end, by start; --all adds ended ones."""
    config, where = _config(ctx, config_path)
    if schedule_name is not None:
        _schedule(config, schedule_name, where)
    after = None if include_all else datetime.now(UTC)
    rows = run_async(with_store(config, lambda store: _stored(store, schedule_name, after)))
    if not rows and not as_json:
        what = "no overrides" if include_all else "no overrides still to end"
        click.echo(what + (f" in {schedule_name}" if schedule_name else ""))
        return
    views.stored_rows(config, rows, as_json)
