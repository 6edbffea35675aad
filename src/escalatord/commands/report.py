"""`escalatord report`: how the incidents of the last days went, for people or scripts.

    escalatord report [--since 30d] [--by category|check|site|person] [--format md|json|csv]

incidents/history.py reads the incidents opened since then (read-only), core/report.py
computes the figures, this module prints them; docs/report.md describes each figure and the
JSON shape. Exit codes: 0 done; 1 no database at the configured path; 2 a usage error (a
--since that is not a positive duration, an unknown --by or --format) or a rejected config.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from escalatord.commands.common import config_option, load_config, run_async, with_store
from escalatord.core.durations import format_duration, parse_duration
from escalatord.core.events import rfc3339
from escalatord.core.report import ALL, GROUPINGS, NONE, AckTimes, Figures, Report, report
from escalatord.people.zones import zones

if TYPE_CHECKING:
    from escalatord.store.db import Store

COLUMNS = (
    "incidents", "acknowledged", "resolved", "mtta_p50", "mtta_p90", "mttr_p50", "mttr_p90",
    "escalated", "escalated_share", "pages", "pages_out_of_hours",
)  # fmt: skip
AFTER_PAGE = ("after_page_p50", "after_page_p90")  # drills' ack times per level and person


def _since(ctx: click.Context, param: click.Parameter, text: str) -> timedelta:
    try:
        since = parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if since <= timedelta(0):
        raise click.BadParameter(f"{text!r} is not a positive duration, e.g. 30d or 12h")
    return since


@click.command(short_help="Incidents, MTTA/MTTR, escalations and pages since a time.")
@config_option
@click.option(
    "--since", "since", default="30d", show_default=True, callback=_since, metavar="DURATION",
    help="Incidents opened this long ago or later (30d, 12h, 2w).",
)  # fmt: skip
@click.option("--by", "by", type=click.Choice(GROUPINGS), help="Group the figures.")
@click.option(
    "--format", "fmt", type=click.Choice(("md", "json", "csv")), default="md", show_default=True,
    help="md: tables for people; json: for scripts (docs/report.md); csv: one row per group.",
)  # fmt: skip
def report_command(config_path: str, since: timedelta, by: str | None, fmt: str) -> None:
    """Incidents opened since --since: count, MTTA and MTTR (p50/p90, nearest-rank), share
    escalated past level 0, pages per person and out of their working hours (Mon–Fri
    08:00–18:00 in their zone), the noisiest checks, and drills apart. docs/report.md."""
    config = load_config(config_path)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - since

    async def read(store: Store) -> Any:
        from escalatord.incidents.history import drill_steps, history

        async with store.read() as conn:
            return (*await history(conn, start), await drill_steps(conn, start))

    incidents, pages, steps = run_async(with_store(config, read))
    found = report(incidents, pages, zones(config), by, steps)
    span = {"since": rfc3339(start), "until": rfc3339(now)}
    if fmt == "json":
        click.echo(json.dumps(as_json(found, span), indent=2))
    elif fmt == "csv":
        click.echo(as_csv(found), nl=False)
    else:
        click.echo(as_md(found, span, format_duration(since)))


report_command.name = "report"


def as_json(found: Report, span: dict[str, str | None]) -> dict[str, Any]:
    """The JSON shape docs/report.md documents."""
    return {
        **span,
        "by": found.by,
        "real": found.real.to_json(),
        "groups": [{"group": g, **f.to_json()} for g, f in found.groups.items()],
        "people": [p.__dict__ for p in found.people],
        "noisiest_checks": [{"check": c, "incidents": n} for c, n in found.noisiest],
        "drills": {
            **found.drills.to_json(),
            "by_level": [{"level": k, **t.to_json()} for k, t in found.drill_levels.items()],
            "by_person": [{"person": k, **t.to_json()} for k, t in found.drill_people.items()],
            "acks": [a.to_json() for a in found.drill_acks],
        },
    }


def as_csv(found: Report) -> str:
    """Seconds, an unknown value empty; the `section` column says what a row is: `real`, one
    per group of real incidents (one `(all)` row without --by); `drills`, the drills' figures
    (`(all)`); `drill level` and `drill person`, the drills' ack times at each level and by
    each person (the group column holds the level or the name, `(none)` for none)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", found.by or "group", *COLUMNS, *AFTER_PAGE])
    groups = found.groups if found.by else {ALL: found.real}
    rows = [("real", name, f.to_json()) for name, f in groups.items()]
    rows.append(("drills", ALL, found.drills.to_json()))
    rows += [("drill level", _named(k), t.to_json()) for k, t in found.drill_levels.items()]
    rows += [("drill person", _named(k), t.to_json()) for k, t in found.drill_people.items()]
    for section, name, values in rows:
        cells = (values.get(c) for c in (*COLUMNS, *AFTER_PAGE))
        writer.writerow([section, name, *("" if v is None else v for v in cells)])
    return out.getvalue()


def _named(key: object) -> str:
    return NONE if key is None else str(key)


def _t(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(timedelta(seconds=round(seconds)))


def _share(f: Figures) -> str:
    return "-" if f.escalated_share is None else f"{f.escalated_share:.0%}"


def _row(name: str, f: Figures) -> str:
    cells = [
        name, str(f.incidents), _t(f.mtta_p50), _t(f.mtta_p90), _t(f.mttr_p50), _t(f.mttr_p90),
        _share(f), str(f.pages), str(f.pages_out_of_hours),
    ]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "|  | incidents | MTTA p50 | MTTA p90 | MTTR p50 | MTTR p90 | escalated | pages "
    "| out of hours |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def as_md(found: Report, span: dict[str, str | None], since: str) -> str:
    """Markdown tables: the real figures (and groups), pages per person, noisiest checks,
    drills."""
    lines = [f"# Incident report: the last {since}", "", f"{span['since']} to {span['until']}"]
    lines += ["", "## Incidents", "", HEADER, _row("all", found.real)]
    if found.by:
        lines += ["", f"## By {found.by}", "", HEADER.replace("|  |", f"| {found.by} |", 1)]
        lines += [_row(name, f) for name, f in found.groups.items()]
    lines += ["", "## Pages per person", ""]
    if found.people:
        lines += ["| person | pages | out of hours |", "|---|---:|---:|"]
        lines += [f"| {p.person} | {p.pages} | {p.out_of_hours} |" for p in found.people]
    else:
        lines.append("No pages to people.")
    lines += ["", "## Noisiest checks", ""]
    if found.noisiest:
        lines += ["| check | incidents |", "|---|---:|"]
        lines += [f"| {c} | {n} |" for c, n in found.noisiest]
    else:
        lines.append("No incidents.")
    lines += ["", "## Drills (not counted above)", ""]
    if found.drills.incidents:
        lines += [HEADER, _row("drills", found.drills)]
    else:
        lines.append("No drills.")
    if found.drill_acks:
        lines += ["", "### Drill acknowledgements", ""]
        lines += ["| incident | check | by | level | after opening | after the page |"]
        lines += ["|---:|---|---|---:|---:|---:|"]
        lines += [
            f"| {a.incident_id} | {a.check} | {_named(a.by)} | {_named(a.level)} "
            f"| {_t(a.seconds)} | {_t(a.after_page)} |"
            for a in found.drill_acks
        ]
        lines += _ack_table("level", found.drill_levels)
        lines += _ack_table("person", found.drill_people)
    return "\n".join(lines)


def _ack_table(name: str, times: dict[Any, AckTimes]) -> list[str]:
    lines = ["", f"### Drill time to acknowledge by {name}", ""]
    lines.append(f"| {name} | acknowledged | after opening p50 | p90 | after the page p50 | p90 |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for key, t in times.items():
        cells = [_named(key), str(t.acknowledged), _t(t.mtta_p50), _t(t.mtta_p90)]
        cells += [_t(t.after_page_p50), _t(t.after_page_p90)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines
