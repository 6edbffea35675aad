"""`escalatord simulate`: what would happen if these checks failed at a given time.

    escalatord simulate CHECK… [--at TIME] [--ack-after DUR [--by P]] [--recover-after DUR]
                        [--tz ZONE] [--json]

The timeline comes from the daemon's own code on a virtual clock (commands/simulation.py):
when each check turns hard, which rule matches, which incidents open (root causes and the
dependants they hold as unreachable), every page with its level, person, channel and time,
repeats, `ack_timeout`, quiet times, until the acknowledgement, the recovery or the end of the
ladder. Nothing is sent and nothing is stored: the configured database is only read, for the
rota overrides and silences in it (without one, the config alone counts, with a note).

Times are read and shown in `--tz` (default: the zone of the first `[[schedule]]`, else this
machine's). Exit codes: 0 the timeline was printed; 2 a usage error (an unknown or disabled
check, a bad TIME, duration or zone) or a rejected config.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from escalatord import loop
from escalatord.commands.common import config_option, fail, load_config, unknown_name, with_store
from escalatord.commands.times import TIME_EXAMPLES, parse_time
from escalatord.core.durations import parse_duration
from escalatord.errors import EscalatordError

if TYPE_CHECKING:
    from escalatord.commands.simulation import Scenario
    from escalatord.commands.simulation_outcome import Outcome
    from escalatord.config.model import Config
    from escalatord.store.db import Store


def _duration(option: str, text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        value = parse_duration(text)
    except ValueError as exc:
        fail([f"error: {option} {text!r}: {exc}"], 2)
    if value < timedelta(0):
        fail([f"error: {option} {text!r} must not be negative"], 2)
    return value


def display_zone(config: Config, name: str | None) -> tzinfo:
    """`--tz`, else the first schedule's zone, else this machine's local zone."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            fail([f'error: --tz {name!r} is not a time zone (e.g. "Europe/Berlin", "UTC")'], 2)
    if config.schedules:
        return config.schedules[0].zone
    local = datetime.now().astimezone().tzinfo
    return local if local is not None else UTC


@click.command(short_help="What would happen if CHECKs failed at a TIME (nothing is sent).")
@config_option
@click.argument("checks", nargs=-1, required=True, metavar="CHECK...")
@click.option("--at", "at_text", metavar="TIME", help=f"When they fail: {TIME_EXAMPLES}.")
@click.option(
    "--ack-after",
    metavar="DUR",
    help='Each incident is acknowledged this long after it opened (e.g. "10m").',
)
@click.option("--by", metavar="P", help="Who acknowledges (with --ack-after).")
@click.option(
    "--recover-after", metavar="DUR", help="The checks answer again this long after TIME."
)
@click.option("--tz", "zone_name", metavar="ZONE", help="Time zone to read TIME and show times in.")
@click.option("--json", "as_json", is_flag=True, help="The timeline as JSON, for scripts.")
def simulate(
    config_path: str,
    checks: tuple[str, ...],
    at_text: str | None,
    ack_after: str | None,
    by: str | None,
    recover_after: str | None,
    zone_name: str | None,
    as_json: bool,
) -> None:
    """What would happen if CHECKs failed at TIME: when each turns hard, which rule matches,
    which incidents open (root causes and what they hold), every page with the person and
    channel it reaches and when, until the ack, the recovery or the end of the ladder. Runs the
    daemon's own code on a virtual clock; nothing is sent or stored. docs/plan.md."""
    try:
        at_spec = parse_time(at_text or "now")
    except ValueError as exc:
        fail([f"error: --at {exc}"], 2)
    if by is not None and ack_after is None:
        fail(["error: --by says who acknowledges: give --ack-after DUR with it"], 2)
    ack = _duration("--ack-after", ack_after)
    recover = _duration("--recover-after", recover_after)
    config = load_config(config_path)
    where = config_path
    for name in checks:
        found = config.check_by_name.get(name)
        if found is None:
            unknown_name("check", name, list(config.check_by_name), where, 2)
        if not found.enabled:
            fail([f"error: check {name!r} is disabled (enabled = false) in {where}"], 2)
    zone = display_zone(config, zone_name)
    from escalatord.commands.simulation import Scenario

    scenario = Scenario(
        checks=tuple(dict.fromkeys(checks)),
        at=at_spec.instant(zone, datetime.now(UTC)),
        ack_after=ack,
        by=by or "someone",
        recover_after=recover,
    )
    found = _run(config, scenario)
    if as_json:
        click.echo(json.dumps(found.to_json(), indent=2))
        return
    from escalatord.commands.simulate_text import render

    click.echo("\n".join(render(found, zone, config)))


def _run(config: Config, scenario: Scenario) -> Outcome:
    """The simulation, counting the configured database's overrides and silences if it exists."""
    import structlog

    from escalatord.commands.simulation import run

    # The daemon's own log lines (incident_opened, transition…) would only repeat the timeline.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))

    async def with_database(store: Store) -> Outcome:
        return await run(config, scenario, copy_from=store)

    try:
        return loop.run(with_store(config, with_database))
    except EscalatordError as exc:
        click.echo(
            f"note: stored rota overrides and silences not counted ({exc}); using the config alone",
            err=True,
        )
    return loop.run(run(config, scenario))
