"""The command line. The only place that exits the process, with commands/ (command groups in
modules of their own, such as `oncall`, and commands/common.py, the helpers they all share).

Exit codes: 0 success; 1 a runtime failure (unknown incident, store unreachable, no database
at the configured path, delivery failed); 2 a rejected config or a usage error. `check NAME`
exits like a monitoring plugin: 0 ok, 1 warning, 2 critical, 3 unknown, and 3 for every error
of its own too (unknown check name, missing, unreadable or invalid config, usage error), so a
monitoring system never reads one as a warning or a critical.

Only `run` creates the database; every other command that opens it refuses a database that does
not exist (store/db.py, `create=False`), naming the path.

Heavy modules (the config loader, SQLAlchemy and Alembic, httpx) are imported inside the
commands that use them: `--help`, `--version` and `check-config` start in a fraction of the
time, and a typo in a command name is answered at once.
"""

from __future__ import annotations

import gc
import json
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from escalatord import __version__, plugins
from escalatord.commands.common import UNKNOWN, config_option
from escalatord.commands.common import fail as _fail
from escalatord.commands.common import load_config as _load
from escalatord.commands.common import run_async as _run
from escalatord.commands.common import unknown_name as _unknown
from escalatord.commands.common import who as _who
from escalatord.commands.common import with_store as _with_store
from escalatord.commands.contacts import people, test_contacts
from escalatord.commands.drill import drill
from escalatord.commands.incidents import reassign, snooze
from escalatord.commands.lint import lint
from escalatord.commands.nodes import nodes
from escalatord.commands.oncall import oncall
from escalatord.commands.passwd import passwd
from escalatord.commands.plan import plan
from escalatord.commands.report import report_command
from escalatord.commands.satellite import satellite
from escalatord.commands.silences import silence
from escalatord.commands.simulate import simulate

if TYPE_CHECKING:
    from escalatord.store.db import Store


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="escalatord")
def main() -> None:
    """escalatord: watch the estate, open incidents, page people until someone acknowledges."""


main.add_command(oncall)  # the group lives in commands/oncall.py: cli.py is kept short
main.add_command(snooze)  # snooze and reassign: commands/incidents.py
main.add_command(reassign)
main.add_command(silence)  # commands/silences.py
main.add_command(report_command)  # commands/report.py
main.add_command(lint)  # commands/lint.py (the analysis: config/lint.py)
main.add_command(plan)  # commands/plan.py (the data: plan/data.py)
main.add_command(drill)  # commands/drill.py
main.add_command(simulate)  # commands/simulate.py (the run: commands/simulation.py)
main.add_command(test_contacts)  # commands/contacts.py, with `people`
main.add_command(people)
main.add_command(passwd)  # commands/passwd.py: a console sign-in's password_hash
main.add_command(nodes)  # commands/nodes.py: a cluster's nodes (docs/cluster.md)
main.add_command(satellite)  # commands/satellite.py: a remote office's (docs/satellites.md)


@main.command()
@config_option
def run(config_path: str) -> None:
    """Run the daemon in the foreground (as systemd does)."""
    # What start-up imports and makes (modules, config, checks, states) lives as long as the
    # daemon: collecting while it is made finds next to nothing to free and costs a visible
    # share of a large start (see bench/RESULTS.md, "Issue 6: start-up under 2 s"). So the
    # garbage collector is off until App.start() has frozen all of it (app.settle_heap), then
    # on again.
    gc.disable()
    from escalatord import logging as eslog
    from escalatord.daemon import Daemon

    config = _load(config_path)
    eslog.configure(config.daemon.log_level)
    _run(Daemon(config_path, config).run())


@main.command("check-config")
@config_option
def check_config(config_path: str) -> None:
    """Validate the config: exit 0 with a summary, or 2 listing every problem."""
    from escalatord.checks.base import CheckContext
    from escalatord.checks.ping.icmp_mode import mode_of, pings
    from escalatord.config.loader import unmatched_checks
    from escalatord.core.shadowing import shadow_warnings

    config = _load(config_path)
    click.echo(f"{config_path}: ok — {config.summary()}")
    silent = unmatched_checks(config)
    if silent:
        click.echo(f"warning: no rule opens an incident for: {', '.join(silent)}", err=True)
    # Warnings, not errors (exit 0): the daemon runs this config as it is, and systemd's
    # ExecStartPre must not refuse to start over a rule that is merely never used.
    for line in shadow_warnings(config):
        click.echo(f"warning: {line}", err=True)
    if pings(config.checks):  # decided as the daemon will: systemd runs this in its sandbox
        icmp = mode_of(CheckContext(icmp_privileged=config.daemon.icmp_privileged))
        if icmp.usable:
            click.echo(icmp.describe())
        else:
            click.echo(f"warning: {icmp.describe()}; ping checks will be unknown", err=True)


class _PluginCommand(click.Command):
    """A command that exits like a monitoring plugin: its own errors, usage errors and
    unexpected exceptions included, exit UNKNOWN (3), never 1 or 2 (warning, critical)."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.exit_code = UNKNOWN
            click.echo(f"UNKNOWN: {exc.format_message()}")  # the usage text goes to stderr
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit):
            raise
        except Exception as exc:  # a bug: the traceback for its report, and still UNKNOWN
            traceback.print_exc()
            _fail([f"error: escalatord failed: {exc!r}"], UNKNOWN)


@main.command(cls=_PluginCommand)
@config_option
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check(config_path: str, name: str, as_json: bool) -> None:
    """Run one check now and print its result: exit 0 ok, 1 warning, 2 critical, 3 unknown
    (also for an unknown name or a bad config), like a monitoring plugin."""
    from escalatord.checks.base import CheckContext, execute

    config = _load(config_path, UNKNOWN)
    cfg = config.check_by_name.get(name)
    if cfg is None:
        _unknown("check", name, list(config.check_by_name), config_path, UNKNOWN)

    async def once() -> Any:
        context = CheckContext(icmp_privileged=config.daemon.icmp_privileged)
        probe = plugins.load("checks", cfg.type)(cfg, context)
        try:
            return await execute(probe)
        finally:
            await probe.close()
            await context.aclose()

    result = _run(once(), UNKNOWN)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "check": name,
                    "status": result.status.value,
                    "summary": result.summary,
                    "measurements": result.measurements,
                    "duration": round(result.duration, 6),
                }
            )
        )
    else:
        click.echo(
            f"{name}: {result.status.value.upper()} — {result.summary} "
            f"({result.duration * 1000:.0f} ms)"
        )
    codes = {"ok": 0, "warning": 1, "critical": 2}
    sys.exit(codes.get(result.status.value, UNKNOWN))


@main.command()
@config_option
@click.option("--all", "include_all", is_flag=True, help="Include resolved and closed ones.")
@click.option(
    "--site",
    default=None,
    help="Only incidents of this site (labels.site of the check or of a check it affects).",
)
@click.option("--category", default=None, help="Only incidents of this [[category]] (its name).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def incidents(
    config_path: str, include_all: bool, site: str | None, category: str | None, as_json: bool
) -> None:
    """List open incidents (newest first); a root cause lists the checks it makes unreachable."""
    from escalatord.escalation.quiet import QuietView
    from escalatord.incidents import service
    from escalatord.incidents.views import incident_json, sites

    config = _load(config_path)
    now = datetime.now(UTC)

    async def fetch(store: Store) -> tuple[list[Any], Any]:
        async with store.read() as conn:
            found = await service.list_incidents(
                conn, include_closed=include_all, category=category
            )
            return found, await QuietView(lambda: config).times(conn, now)

    rows, times = _run(_with_store(config, fetch))

    def quiet(r: Any) -> Any:  # in a maintenance window or a silence: not paging now
        return times.of(r.check, r.labels or {}, now) if r.status in _OPEN else None

    if site is not None:
        rows = [r for r in rows if site in sites(r)]
    if as_json:
        shown = [{**incident_json(r), "quiet": (q := quiet(r)) and q.to_json()} for r in rows]
        click.echo(json.dumps(shown, indent=2))
        return
    if not rows:
        what = "no open incidents" if not include_all else "no incidents"
        click.echo(
            what
            + (f" for site {site}" if site is not None else "")
            + (f" of category {category}" if category is not None else "")
        )
        return
    click.echo(
        f"{'ID':>5}  {'STATUS':<12}  {'SEVERITY':<8}  {'OPENED (UTC)':<19}  {'SITE':<10}  "
        "CHECK / TITLE"
    )
    for r in rows:
        opened = r.opened_at.strftime("%Y-%m-%d %H:%M:%S")
        where = (r.labels or {}).get("site") or "-"
        title = f"[{r.kind}] {r.title}" if r.kind else r.title  # a problem: left unmarked
        click.echo(
            f"{r.id:>5}  {r.status:<12}  {r.severity:<8}  {opened:<19}  {where:<10}  {title}"
            + (f" — {r.summary}" if r.summary else "")
        )
        if r.category:  # business impact: said under the title, the columns stay as they were
            click.echo(f"{'':>5}  {'':<12}  category {r.category} (priority {r.priority})")
        if r.acknowledged_by:
            until = r.snoozed_until and f" (snoozed until {r.snoozed_until:%Y-%m-%d %H:%M:%S})"
            click.echo(f"{'':>5}  {'':<12}  acknowledged by {r.acknowledged_by}{until or ''}")
        if (q := quiet(r)) is not None:
            click.echo(f"{'':>5}  {'':<12}  in maintenance: {q.describe()}")
        for a in r.affected or ():
            click.echo(
                f"{'':>5}  {'':<12}  {'':<8}  {'':<19}  {a.get('site') or '-':<10}"
                f"    unreachable: {a['check']}"
            )


_OPEN = ("triggered", "acknowledged")


def _change(
    config_path: str, action: Callable[..., Awaitable[Any]], incident_id: int, **kwargs: Any
) -> Any:
    config = _load(config_path)

    async def work(store: Store) -> Any:
        async with store.write() as conn:
            return await action(conn, incident_id, now=datetime.now(UTC), **kwargs)

    return _run(_with_store(config, work))


@main.command()
@config_option
@click.argument("incident_id", type=int)
@click.option("--by", default=None, help="Who acknowledges (default: your user name).")
@click.option(
    "--as",
    "person",
    default=None,
    metavar="PERSON",
    help="Acknowledge as this [[person]] of the config (recorded as acknowledged_by).",
)
def ack(config_path: str, incident_id: int, by: str | None, person: str | None) -> None:
    """Acknowledge an incident: escalation stops, everyone paged is told."""
    from escalatord.incidents import service

    if person is not None:
        if by is not None:
            _fail(["error: give --as PERSON or --by NAME, not both"], 2)
        known = _load(config_path).person_by_name
        if person not in known:
            _unknown("person", person, list(known), config_path, 2)
        by = person
    row = _change(config_path, service.acknowledge, incident_id, by=by or _who())
    click.echo(f"incident {row.id} acknowledged by {row.acknowledged_by}")


@main.command()
@config_option
@click.argument("incident_id", type=int)
@click.option("--by", default=None, help="Who resolves (default: your user name).")
def resolve(config_path: str, incident_id: int, by: str | None) -> None:
    """Resolve an incident by hand: escalation stops, everyone paged is told."""
    from escalatord.incidents import service

    row = _change(config_path, service.resolve, incident_id, by=by or _who())
    click.echo(f"incident {row.id} resolved by {row.resolved_by}")


@main.command()
@config_option
@click.argument("incident_id", type=int)
@click.option("--note", required=True, help="What was done (required).")
@click.option("--by", default=None, help="Who closes (default: your user name).")
def close(config_path: str, incident_id: int, note: str, by: str | None) -> None:
    """Close an incident with a note."""
    from escalatord.incidents import service

    row = _change(config_path, service.close, incident_id, note=note, by=by or _who())
    click.echo(f"incident {row.id} closed")


@main.command("test-notify")
@config_option
@click.argument("name")
def test_notify(config_path: str, name: str) -> None:
    """Send a test message through a notifier and report the result.

    It takes the path every page takes: a row in the outbox, the notifier's templates and
    client, the outcome recorded. It is sent once, now: a test is never retried later.
    """
    from escalatord.core.events import IncidentView

    config = _load(config_path)
    cfg = config.notifier_by_name.get(name)
    if cfg is None:
        _unknown("notifier", name, list(config.notifier_by_name), config_path)
    incident = IncidentView(
        id="test",
        key="test",
        title="escalatord test notification",
        status="triggered",
        severity="info",
        check="test-notify",
        summary=f"test sent by {_who()} via {name}",
        opened_at=datetime.now(UTC),
    )

    async def send(store: Store) -> tuple[str | None, float]:
        from escalatord.notify.dispatcher import Dispatcher

        notifier = plugins.load("notifiers", cfg.type)(cfg)
        started = time.monotonic()
        try:
            _status, error = await Dispatcher(store, {name: notifier}).send_test(name, incident)
        finally:
            await notifier.close()
        return error, time.monotonic() - started

    error, took = _run(_with_store(config, send))
    if error is not None:
        click.echo(f"error: test notification not delivered: {error}", err=True)
        sys.exit(1)
    click.echo(f"test notification delivered to {name} ({cfg.type}) in {took * 1000:.0f} ms")
