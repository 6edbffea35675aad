"""`escalatord plan [--format md|html] [--out FILE] [--weeks 2] [--config]`: the escalation plan
as a document, from the config (and the stored run-time overrides of the rota).

The plan's data is plan/data.py's (pure); this reads its inputs and renders it with
plan/render.py (the Jinja2 templates in plan/templates/, which the console's /plan shares).
The stored overrides count when the database can be opened; when it cannot, a note on stderr
says so and the config alone is used (as `lint` does). Exit codes: 0 written; 1 the output
file cannot be written; 2 a usage error or a rejected config.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from escalatord.commands.common import config_option, fail, load_config, stored_overrides

MAX_WEEKS = 52


@click.command(short_help="The escalation plan as a document (Markdown or one HTML file).")
@config_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html"]),
    default="md",
    show_default=True,
    help="md for a wiki; html is one self-contained file that prints well.",
)
@click.option("--out", "out", metavar="FILE", default=None, help="Write here, not to stdout.")
@click.option(
    "--weeks",
    type=click.IntRange(1, MAX_WEEKS),
    default=2,
    show_default=True,
    help="How many weeks of on-call names to show.",
)
def plan(config_path: str, fmt: str, out: str | None, weeks: int) -> None:
    """Render the escalation plan: per category and site, each check that can open an
    incident with its thresholds in words, the rule, severity, owner, runbook, action steps and
    ladder; who is on call for the next weeks, contact paths, and the dependency map.
    docs/plan.md describes it."""
    from escalatord.plan.data import assemble
    from escalatord.plan.render import render

    config = load_config(config_path)
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    overrides = stored_overrides(config, start, start + timedelta(weeks=weeks))
    text = render(assemble(config, start, weeks, overrides), fmt)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        fail([f"error: cannot write {out}: {exc.strerror or exc}"], 1)
    click.echo(f"plan written to {out}", err=True)
