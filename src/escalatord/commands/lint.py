"""`escalatord lint [--config] [--json] [--weeks 4]`: what in the config would fail people at
3 a.m. The analysis is config/lint.py's; this reads its inputs and prints its findings.

The stored run-time overrides (`oncall override`) and contact confirmations (`test-contacts`)
count when the database can be opened; when it cannot, a note on stderr says so, the config
alone is used, and contacts are not judged (nothing is known of their confirmations: reporting
all of them would bury the other findings on a machine without the database).

Exit codes: 0 no finding, 1 findings, 2 a usage error or a rejected config (check-config says
why).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from escalatord.commands.common import config_option, load_config, stored_overrides
from escalatord.commands.contacts import stored_confirmations

if TYPE_CHECKING:
    from escalatord.config.lint import Finding

MAX_WEEKS = 52


@click.command(short_help="What in the config would fail people at 3 a.m.")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of findings.")
@click.option(
    "--weeks",
    type=click.IntRange(1, MAX_WEEKS),
    default=4,
    show_default=True,
    help="How far ahead to look for moments a level reaches nobody.",
)
def lint(config_path: str, as_json: bool, weeks: int) -> None:
    """Find what would fail people at 3 a.m.: checks no rule covers, rules that match no check
    or are shadowed, levels that reach nobody at some moment of the next weeks (schedule gaps),
    persons without a contact, contacts never confirmed (`test-contacts`), names defined and
    never used. Exit 1 on findings, 0 when clean.
    docs/lint.md lists the findings."""
    from escalatord.config.lint import lint as analyse

    config = load_config(config_path)
    start = datetime.now(UTC)
    overrides = stored_overrides(config, start, start + timedelta(weeks=weeks))
    confirmed = stored_confirmations(config)
    found = analyse(config, start, weeks, overrides, _files(config_path), confirmed)
    if as_json:
        click.echo(json.dumps([f.as_dict() for f in found], indent=2))
    else:
        _print(found, config_path)
    sys.exit(1 if found else 0)


def _files(config_path: str) -> dict[tuple[str, str], str]:
    """The file each named item was read from (the loader keeps only the rules' files)."""
    from escalatord.config.reading import Reader

    reader = Reader(os.environ)
    reader.read_file(config_path, chain=())
    return {(i.kind, i.name): i.file for i in reader.items if i.name is not None}


def _print(found: list[Finding], config_path: str) -> None:
    if not found:
        click.echo(f"{config_path}: no findings")
        return
    kinds = list(dict.fromkeys(f.kind for f in found))  # already in config/lint.py's order
    for kind in kinds:
        mine = [f for f in found if f.kind == kind]
        click.echo(f"{kind} ({len(mine)}):")
        for f in mine:
            click.echo(f"  {f.file}: {f.key}: {f.message}")
        click.echo("")
    click.echo(f"{len(found)} finding(s) in {config_path}")
