"""`escalatord test-contacts` and `escalatord people`: does every contact of every person
actually reach them?

    escalatord test-contacts [--person P] [--valid-for 7d] [--wait 30s]
    escalatord people [--json]

`test-contacts` writes one test message per contact (of person P, or of everyone) into the
configured database's outbox, each with a signed confirm link (people/confirmations.py says
why the running daemon sends them, not this process). It then waits up to `--wait` for the
daemon to deliver them and prints what became of each; one that is still pending is sent when
the daemon runs. Following a link and pressing its button (api/confirm.py) records the
confirmation. `people` lists each person's contacts with their last test and last
confirmation; `lint` reports every contact never confirmed (config/lint.py).

Exit codes, as the other commands: 0 written (test-contacts) or listed; 1 no database at the
configured path, or a message failed for good; 2 a usage error (an unknown person, a person
or a config without contacts) or a rejected config.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy import func, select

from escalatord import loop
from escalatord.commands.common import (
    config_option,
    fail,
    load_config,
    run_async,
    unknown_name,
    who,
    with_store,
)
from escalatord.core.durations import format_duration, parse_duration
from escalatord.errors import EscalatordError
from escalatord.people import confirmations
from escalatord.people.confirmations import Contact, Ident, Standing

if TYPE_CHECKING:
    from escalatord.config.model import Config
    from escalatord.store.db import Store

POLL = 0.25  # seconds between looks at the outbox while waiting
ALIVE = timedelta(seconds=60)  # a daemon's node row written this recently: it is running


def contacts_of(config: Config, person: str | None = None) -> list[Contact]:
    """Every contact of every person (or of `person`), in config order."""
    return [
        Contact(p.name, p.full_name, number, c.notifier, c.to, c.after)
        for p in config.persons
        if person is None or p.name == person
        for number, c in enumerate(p.contacts)
    ]


def _duration(_ctx: Any, _param: Any, value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("test-contacts")
@config_option
@click.option("--person", default=None, metavar="P", help="Only the contacts of person P.")
@click.option(
    "--valid-for",
    "ttl",
    default="7d",
    show_default=True,
    callback=_duration,
    help="How long the confirm links work.",
)
@click.option(
    "--wait",
    default="30s",
    show_default=True,
    callback=_duration,
    help="How long to wait for the daemon to deliver them (0s: do not wait).",
)
def test_contacts(config_path: str, person: str | None, ttl: timedelta, wait: timedelta) -> None:
    """Send every contact of every person (or of --person P) a test message with a confirm
    link; the running daemon delivers them. `escalatord people` shows the confirmations."""
    from escalatord.notify.links import AckLinks

    config = load_config(config_path)
    if person is not None and person not in config.person_by_name:
        unknown_name("person", person, list(config.person_by_name), config_path, 2)
    contacts = contacts_of(config, person)
    if not contacts:
        whose = f"person {person!r} has" if person else "no [[person]] has"
        fail([f"error: {whose} no contact in {config_path}: nothing to test"], 2)
    by = who()

    async def work(store: Store) -> tuple[list[confirmations.Sent], bool, dict[str, Any]]:
        key = await AckLinks(store, lambda: config.daemon).key()
        now = datetime.now(UTC)
        async with store.write() as conn:
            sent = await confirmations.send_tests(
                conn, contacts, key=key, base_url=config.daemon.base_url, now=now, by=by, ttl=ttl
            )
        alive = await _daemon_alive(store)
        outcomes = await _wait(store, [s.test.outbox_key for s in sent], wait if alive else None)
        return sent, alive, outcomes

    sent, alive, outcomes = run_async(with_store(config, work))
    click.echo(
        f"{len(sent)} test message(s) queued by {by}; confirm links valid for "
        f"{format_duration(ttl)}:"
    )
    failed = 0
    for item in sent:
        test = item.test
        status, error = outcomes.get(test.outbox_key, ("pending", None))
        failed += status == "failed"
        said = f"failed: {error}" if status == "failed" and error else status
        click.echo(
            f"  {test.person} contact {test.contact} ({test.notifier} -> {test.address}): {said}"
        )
    if not alive:
        click.echo(
            "note: no running daemon has written to this database in the last minute; the "
            "messages go out when `escalatord run` runs",
            err=True,
        )
    elif any(v[0] == "pending" for v in outcomes.values()) or len(outcomes) < len(sent):
        click.echo("note: the daemon is still sending the pending ones (retries included)")
    sys.exit(1 if failed else 0)


async def _daemon_alive(store: Store) -> bool:
    """Whether some daemon wrote its node row within ALIVE, by the database's clock (a CLI on
    another machine may disagree with it)."""
    from escalatord.store.nodes import database_now
    from escalatord.store.tables import nodes

    async with store.read() as conn:
        seen = (await conn.execute(select(func.max(nodes.c.seen_at)))).scalar()
        db_now = await database_now(conn)
    return seen is not None and db_now - seen < ALIVE


async def _wait(
    store: Store, keys: list[str], wait: timedelta | None
) -> dict[str, tuple[str, str | None]]:
    """Each outbox row's (status, error), once none is pending or `wait` is over."""
    from escalatord.store.tables import outbox

    deadline = asyncio.get_running_loop().time() + (wait.total_seconds() if wait else 0)
    while True:
        async with store.read() as conn:
            rows = await conn.execute(
                select(outbox.c.key, outbox.c.status, outbox.c.last_error).where(
                    outbox.c.key.in_(keys)
                )
            )
            found = {r.key: (r.status, r.last_error) for r in rows}
        pending = any(status == "pending" for status, _ in found.values())
        if not pending or asyncio.get_running_loop().time() >= deadline:
            return found
        await asyncio.sleep(POLL)


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def people(config_path: str, as_json: bool) -> None:
    """List each person's contacts with their last test and last confirmation."""
    config = load_config(config_path)

    async def read(store: Store) -> dict[Ident, Standing]:
        async with store.read() as conn:
            return await confirmations.standings(conn)

    known = run_async(with_store(config, read))
    now = datetime.now(UTC)
    if as_json:
        click.echo(json.dumps(_people_json(config, known), indent=2))
        return
    if not config.persons:
        click.echo(f"no [[person]] in {config_path}")
        return
    for person in config.persons:
        name = f"{person.name} ({person.full_name})" if person.full_name else person.name
        click.echo(name)
        if not person.contacts:
            click.echo("  no contact: no page can reach them")
        for contact in contacts_of(config, person.name):
            standing = known.get(contact.ident, Standing())
            click.echo(
                f"  {contact.index}: {contact.notifier} -> {contact.to} "
                f"(after {format_duration(contact.after)})"
            )
            click.echo(f"     last test:     {standing.describe_sent(now)}")
            click.echo(f"     confirmation:  {standing.describe_confirmed(now)}")


def _when(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None


def _people_json(config: Config, known: Mapping[Ident, Standing]) -> list[dict[str, Any]]:
    shown = []
    for person in config.persons:
        contacts = []
        for contact in contacts_of(config, person.name):
            standing = known.get(contact.ident, Standing())
            last = standing.last_sent
            contacts.append(
                {
                    "index": contact.index,
                    "notifier": contact.notifier,
                    "to": contact.to,
                    "after": format_duration(contact.after),
                    "last_test": None
                    if last is None
                    else {
                        "sent_at": _when(last.sent_at),
                        "sent_by": last.sent_by,
                        "delivery": standing.delivery,
                        "error": standing.delivery_error,
                        "confirmed_at": _when(last.confirmed_at),
                    },
                    "confirmed_at": _when(standing.confirmed_at),
                }
            )
        shown.append({"name": person.name, "full_name": person.full_name, "contacts": contacts})
    return shown


def stored_confirmations(config: Config) -> Mapping[Ident, datetime] | None:
    """When each tested contact was last confirmed, for lint; None with a note when the
    database cannot be read (lint must still work on a machine without one: contacts are then
    not judged, rather than all reported unconfirmed)."""
    if not any(p.contacts for p in config.persons):
        return {}

    async def read(store: Store) -> Mapping[Ident, datetime]:
        async with store.read() as conn:
            found = await confirmations.standings(conn)
        return {ident: s.confirmed_at for ident, s in found.items() if s.confirmed_at}

    try:
        return loop.run(with_store(config, read))
    except EscalatordError as exc:
        click.echo(
            f"note: contact confirmations not checked ({exc}); run lint where the database is",
            err=True,
        )
        return None
