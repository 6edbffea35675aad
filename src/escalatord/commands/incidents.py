"""`escalatord snooze` and `escalatord reassign`: taking an incident for a while, handing it on.

    escalatord snooze ID DURATION [--as PERSON]
    escalatord reassign ID --to NAME [--as PERSON]

They write to the database from this process, as `ack` does (incidents/rearm.py): the
daemon's tick re-triggers a snooze that ended with the incident still open, and its
dispatcher, which polls the outbox every second, sends the pages and notices written here.
`--as` names a [[person]] of the config (recorded as who did it); without it, the user at the
keyboard, as `ack` records.

Exit codes, as the other commands: 0 done; 1 an unknown incident, one already resolved or
closed, a NAME that reaches nobody now (a schedule with nobody on call), or no database at the
configured path; 2 a usage error (a DURATION that does not parse or is not longer than 0s,
an unknown --as person or --to NAME, named with the configured ones) or a rejected config.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from escalatord.commands.common import (
    config_option,
    load_config,
    run_async,
    unknown_name,
    who,
    with_store,
)
from escalatord.core.durations import format_duration, parse_duration

if TYPE_CHECKING:
    from escalatord.config.model import Config
    from escalatord.store.db import Store

as_option = click.option(
    "--as",
    "person",
    default=None,
    metavar="PERSON",
    help="Who does it: a [[person]] of the config (default: your user name).",
)


def _duration(ctx: click.Context, param: click.Parameter, text: str) -> timedelta:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if value <= timedelta(0):
        raise click.BadParameter(f"{text!r}: a snooze must be longer than 0s, e.g. 1h")
    return value


def _actor(config: Config, person: str | None, where: str) -> str:
    if person is None:
        return who()
    if person not in config.person_by_name:
        unknown_name("person", person, list(config.person_by_name), where, 2)
    return person


@click.command()
@config_option
@click.argument("incident_id", type=int)
@click.argument("duration", metavar="DURATION", callback=_duration)
@as_option
def snooze(config_path: str, incident_id: int, duration: timedelta, person: str | None) -> None:
    """Acknowledge an incident until DURATION from now (e.g. 1h); then, if it is still open,
    it is triggered again and its ladder restarts. Snoozing an acknowledged incident sets its
    snooze anew."""
    from escalatord.incidents import service

    config = load_config(config_path)
    by = _actor(config, person, config_path)

    async def work(store: Store) -> Any:
        now = datetime.now(UTC)
        async with store.write() as conn:
            return await service.snooze(conn, incident_id, until=now + duration, by=by, now=now)

    row = run_async(with_store(config, work))
    click.echo(
        f"incident {row.id} snoozed by {row.acknowledged_by} for {format_duration(duration)}, "
        f"until {row.snoozed_until:%Y-%m-%d %H:%M:%S} UTC"
    )


@click.command()
@config_option
@click.argument("incident_id", type=int)
@click.option(
    "--to",
    "target",
    required=True,
    metavar="NAME",
    help="The new owner: a person, team, schedule (whoever is on call now) or notifier.",
)
@as_option
def reassign(config_path: str, incident_id: int, target: str, person: str | None) -> None:
    """Make NAME the incident's owner and page NAME now (an acknowledged incident is
    triggered again so the page is not muted; the ladder keeps its times)."""
    from escalatord.escalation.recipients import ConfigResolver
    from escalatord.incidents import service

    config = load_config(config_path)
    if config.target_kind(target) is None:
        known = [
            *config.person_by_name,
            *config.team_by_name,
            *config.schedule_by_name,
            *config.notifier_by_name,
        ]
        unknown_name("person, team, schedule or notifier", target, known, config_path, 2)
    by = _actor(config, person, config_path)
    resolver = ConfigResolver(lambda: config)

    async def work(store: Store) -> tuple[Any, int]:
        now = datetime.now(UTC)
        async with store.write() as conn:
            return await service.reassign(
                conn, incident_id, to=target, by=by, now=now, resolver=resolver
            )

    row, enqueued = run_async(with_store(config, work))
    click.echo(
        f"incident {row.id} reassigned to {target} by {by}: {row.status}, "
        f"{enqueued} message(s) queued"
    )
