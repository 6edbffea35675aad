"""What `escalatord oncall` prints: who is on call, rota segments and stored overrides, as
tables (times in the schedule's zone, its abbreviation shown) and as JSON (ISO 8601 with the
zone's offset, the zone named in "timezone").

How an answer was decided is named as the config and the store name it: `layer[1]` (the
schedule's second [[schedule.layer]], counting from 0 as key paths do), `override[0]` (its
first [[schedule.override]] in config) or `override #7` (stored override 7, as `oncall
overrides` lists it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

import click

from escalatord.commands.times import iso, shown
from escalatord.core.oncall import Decision, Segment

if TYPE_CHECKING:
    from escalatord.config.model import Config
    from escalatord.config.people import ScheduleConfig
    from escalatord.people.overrides import StoredOverride


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print left-aligned columns two spaces apart, each as wide as its widest cell."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for line in (headers, *rows):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def persons_json(config: Config, names: Sequence[str]) -> list[dict[str, str | None]]:
    """Each person as {"name", "full_name"} (null when config gives none or no longer has it)."""
    found = config.person_by_name
    return [{"name": n, "full_name": found[n].full_name if n in found else None} for n in names]


def persons_text(config: Config, names: Sequence[str]) -> str:
    """ "alice (Alice Moreau)", several comma-separated, or "nobody"."""
    if not names:
        return "nobody"
    found = config.person_by_name
    return ", ".join(
        f"{n} ({found[n].full_name})" if n in found and found[n].full_name else n for n in names
    )


def decided_by(
    schedule: ScheduleConfig, decision: Decision, stored: Sequence[StoredOverride]
) -> dict[str, int] | None:
    """What decided: {"layer": i}, {"override": id} (stored), {"config_override": i}, or None
    for nobody. A stored override wins over an equal one from config, as it does in the rota."""
    if decision.layer is not None:
        return {"layer": decision.layer}
    if decision.override is None:
        return None
    for row in reversed(stored):
        if row.override() == decision.override:
            return {"override": row.id}
    return {"config_override": schedule.rota().overrides.index(decision.override)}


def decided_text(by: dict[str, int] | None) -> str:
    if by is None:
        return "-"
    if "layer" in by:
        return f"layer[{by['layer']}]"
    if "override" in by:
        return f"override #{by['override']}"
    return f"override[{by['config_override']}]"


def now_rows(
    config: Config,
    answers: Sequence[tuple[ScheduleConfig, datetime, Decision, datetime | None, Any]],
    as_json: bool,
    with_at: bool,
) -> None:
    """Print who is on call in each schedule: (schedule, at, decision, until, decided_by)."""
    if as_json:
        click.echo(
            json_text(
                [
                    {
                        "schedule": s.name,
                        "timezone": s.timezone,
                        "at": iso(at, s.zone),
                        "on_call": persons_json(config, d.persons),
                        "until": iso(until, s.zone),
                        "decided_by": by,
                    }
                    for s, at, d, until, by in answers
                ]
            )
        )
        return
    headers = ["SCHEDULE", *(["AT"] if with_at else []), "ON CALL", "UNTIL", "BY", "TIME ZONE"]
    rows = [
        [
            s.name,
            *([shown(at, s.zone)] if with_at else []),
            persons_text(config, d.persons),
            shown(until, s.zone) if until else "no change within a year",
            decided_text(by),
            s.timezone,
        ]
        for s, at, d, until, by in answers
    ]
    table(headers, rows)


def segments(
    config: Config,
    schedule: ScheduleConfig,
    found: Sequence[Segment],
    start: datetime,
    end: datetime,
    as_json: bool,
) -> None:
    """Print the rota of `schedule` from `start` until `end` as segments."""
    zone = schedule.zone
    if as_json:
        body = {
            "schedule": schedule.name,
            "timezone": schedule.timezone,
            "from": iso(start, zone),
            "until": iso(end, zone),
            "segments": [
                {
                    "from": iso(s.start, zone),
                    "until": iso(s.end, zone),
                    "on_call": persons_json(config, s.persons),
                }
                for s in found
            ],
        }
        click.echo(json_text(body))
        return
    click.echo(f"{schedule.name}, times in {schedule.timezone}:")
    rows = [
        [shown(s.start, zone), shown(s.end, zone), persons_text(config, s.persons)] for s in found
    ]
    table(["FROM", "UNTIL", "ON CALL"], rows)


def zone_of(config: Config, schedule: str) -> tzinfo:
    """The zone a stored override is shown in: its schedule's, or UTC if config lost it."""
    found = config.schedule_by_name.get(schedule)
    return found.zone if found is not None else UTC


def override_text(config: Config, row: StoredOverride) -> str:
    """ "erin (Erin Walsh) in it-oncall from … until …", in the schedule's zone."""
    zone = zone_of(config, row.schedule)
    return (
        f"{persons_text(config, [row.person])} in {row.schedule} "
        f"from {shown(row.start, zone)} until {shown(row.end, zone)}"
    )


def stored_rows(config: Config, rows: Sequence[StoredOverride], as_json: bool) -> None:
    """Print stored overrides, by start."""
    if as_json:
        body = []
        for r in rows:
            zone = zone_of(config, r.schedule)
            body.append(
                {
                    "id": r.id,
                    "schedule": r.schedule,
                    "person": persons_json(config, [r.person])[0],
                    "from": iso(r.start, zone),
                    "until": iso(r.end, zone),
                    "created_at": iso(r.created_at, zone),
                    "created_by": r.created_by,
                }
            )
        click.echo(json_text(body))
        return
    table(
        ["ID", "SCHEDULE", "PERSON", "FROM", "UNTIL", "ADDED BY"],
        [
            [
                str(r.id),
                r.schedule,
                persons_text(config, [r.person]),
                shown(r.start, zone_of(config, r.schedule)),
                shown(r.end, zone_of(config, r.schedule)),
                r.created_by,
            ]
            for r in rows
        ],
    )


def json_text(body: Any) -> str:
    return json.dumps(body, indent=2)
