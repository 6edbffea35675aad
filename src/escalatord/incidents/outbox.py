"""An incident's notifications as outbox rows: pages and notices enqueued once each, and who
was paged (the escalation steps that make pages are in ladder.py).

Rows are only written here; the dispatcher (notify/dispatcher.py) delivers them. Each row's
key makes a repeat impossible:

    <incident>:<tag>:<event>:<notifier>                 a channel
    <incident>:<tag>:<event>:<notifier>@<person>#<n>    a person's contact number n (from 0)

`tag` is the step index of a page ("<index>~<ladder start>" once the ladder was restarted,
ladder.py `step_tag`), "reassigned" for a reassignment's page, or the event of a notice; a
repeat gets ".<n>" (n from 1: "acknowledged.1" for an ack after a re-trigger, transitions.py
`repeat_tag`). It never holds ":", so it is always the key's second part. Names cannot hold
"@", "#" or ">" (config's NAME pattern), so a key is unique per person and contact, and a
fallback's key, the failed page's key + ">" + the fallback, keeps its "<incident>:<tag>:" prefix
(incidents/pages.py reads it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core.events import Event
from escalatord.core.recipients import Recipients
from escalatord.incidents.groups import with_group
from escalatord.incidents.rows import view
from escalatord.store.tables import outbox

PAGE_EVENTS = tuple(e.value for e in Event if e.is_page)


@dataclass(frozen=True)
class Target:
    """Where one outbox row goes: a notifier (a channel), or a person at one contact
    (`person`, `address` = the contact's `to`, `after` = when, since the person was paged).
    `label` is the key's last part."""

    notifier: str
    label: str
    person: str | None = None
    full_name: str | None = None
    address: str | None = None
    after: timedelta = timedelta(0)


def channel(name: str) -> Target:
    return Target(name, name)


def targets(found: Recipients) -> list[Target]:
    """The rows a resolved level becomes: one per channel, then one per contact of each
    person, in order."""
    rows = [channel(name) for name in found.channels]
    for person in found.persons:
        for number, contact in enumerate(person.contacts):
            label = f"{contact.notifier}@{person.name}#{number}"
            rows.append(
                Target(
                    contact.notifier,
                    label,
                    person.name,
                    person.full_name,
                    contact.to,
                    contact.after,
                )
            )
    return rows


def payload(row: Any) -> dict[str, Any]:
    """The stored view of an incident row that a notification carries."""
    data = view(row).to_json()
    data["status"] = row.status
    data["acknowledged_by"] = row.acknowledged_by or ""
    return data


def page_row(
    incident_id: int,
    tag: str,
    event: Event,
    level: int,
    target: Target,
    data: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """One outbox row for `target` (key: module docstring)."""
    # A later contact is a row due at its time, written with the first: `kill -9` in between
    # neither loses it nor sends it twice. It counts as created then: its ack link's ttl and
    # its notifier's max_age run from when it goes out.
    due = now + target.after
    if target.person is not None:
        # Who the page is for, as the config said at the time: the dispatcher greets them.
        data = {**data, "person": {"name": target.person, "full_name": target.full_name}}
    return {
        "key": f"{incident_id}:{tag}:{event}:{target.label}",
        "incident_id": incident_id,
        "notifier": target.notifier,
        "person": target.person,
        "address": target.address,
        "event": str(event),
        "level": level,
        "payload": data,
        "status": "pending",
        "attempts": 0,
        "created_at": due,
        "next_attempt_at": due,
    }


async def insert_pages(conn: AsyncConnection, pages: list[dict[str, Any]]) -> int:
    """Insert the outbox rows whose key is not there yet, in order; returns how many."""
    if not pages:
        return 0
    keys = [page["key"] for page in pages]
    known: set[str] = set()
    for start in range(0, len(keys), 500):  # bounded IN lists
        chunk = keys[start : start + 500]
        known.update(
            (await conn.execute(select(outbox.c.key).where(outbox.c.key.in_(chunk)))).scalars()
        )
    new = [page for page in dict((p["key"], p) for p in pages).values() if page["key"] not in known]
    if new:
        await conn.execute(insert(outbox), new)
    return len(new)


async def enqueue(
    conn: AsyncConnection,
    row: Any,
    event: Event,
    level: int,
    to: Iterable[str | Target],
    now: datetime,
    *,
    tag: str,
) -> int:
    """Insert one outbox row per target (a notifier's name is a channel); the idempotency key
    makes a repeat impossible. A grouped incident's notice lists its group (groups.py)."""
    data = await with_group(conn, row, payload(row))
    seen = {(t if isinstance(t, Target) else channel(t)).label: t for t in to}
    pages = [
        page_row(row.id, tag, event, level, t if isinstance(t, Target) else channel(t), data, now)
        for t in seen.values()
    ]
    return await insert_pages(conn, pages)


async def paged_targets(conn: AsyncConnection, incident_id: int | Sequence[int]) -> list[Target]:
    """Everyone who received (or is being sent) a page for the incident (or for any of several:
    a storm's group, incidents/groups.py `page_holders`), in first-paged
    order: a notifier whose page was delivered or is still being tried, and each paged person
    at the contacts their page went out to (delivered, attempted, or being sent now) — not at
    later contacts never used. A page that failed for good reached nobody: it is not told
    about the ack or the resolution (its fallback, which did page someone, is)."""
    went_out = or_(outbox.c.attempts > 0, outbox.c.claimed_by.is_not(None))
    ids = [incident_id] if isinstance(incident_id, int) else list(incident_id)
    rows = await conn.execute(
        select(outbox.c.key, outbox.c.notifier, outbox.c.person, outbox.c.address, outbox.c.payload)
        .where(
            and_(
                outbox.c.incident_id.in_(ids),
                outbox.c.event.in_(PAGE_EVENTS),
                or_(
                    outbox.c.status == "delivered",
                    and_(
                        outbox.c.status == "pending",
                        or_(outbox.c.person.is_(None), went_out),
                    ),
                ),
            )
        )
        .order_by(outbox.c.id)
    )
    found: dict[str, Target] = {}
    for r in rows:
        if r.person is None:
            found.setdefault(r.notifier, channel(r.notifier))
            continue
        # The key's last part ("mail@alice#0"): after "<incident>:<tag>:<event>:".
        label = r.key.split(":", 3)[3]
        full_name = ((r.payload or {}).get("person") or {}).get("full_name")
        found.setdefault(label, Target(r.notifier, label, r.person, full_name, r.address))
    return list(found.values())


def names(to: Sequence[Target]) -> list[str]:
    """Who the targets are, once each: the notifier of a channel, a person's name."""
    return list(dict.fromkeys(t.person or t.notifier for t in to))
