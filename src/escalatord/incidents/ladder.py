"""The escalation ladder: the steps that fall due become outbox rows, for whoever each level's
names resolve to at the instant it fires.

incidents/ has no config: the caller hands in a `Resolver` (escalation/recipients.py builds
one from the current config and the stored rota overrides). The policy snapshot keeps the
names; they are resolved when the level fires, so a handoff or an override made since the
incident opened is followed. A level that resolves to nobody pages the next level at once and
says so on the timeline, as a page that reached nobody does (incidents/pages.py).

The ladder is planned from `base(row)`: `ladder_at` once it was restarted (an `ack_timeout`
or the end of a snooze re-triggered the incident, incidents/rearm.py), else `opened_at`. The
tag of a step's outbox keys (outbox.py) is its index in the first ladder, "<index>~<ladder_at>"
in a restarted one, so level 0 paged again never collides with the first ladder's keys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core import planning
from escalatord.core.lifecycle import IncidentStatus
from escalatord.core.recipients import Recipients, channels_only
from escalatord.incidents.groups import with_group
from escalatord.incidents.outbox import insert_pages, page_row, payload, targets
from escalatord.store.tables import incidents, timeline

# How a restarted ladder's start is written in its tags: compact, no ":" (keys split on it).
_STAMP = "%Y%m%dT%H%M%S.%fZ"


def base(row: Any) -> datetime:
    """When the incident's ladder started: every plan of its steps counts from here."""
    return row.ladder_at or row.opened_at


def ladder_id(row: Any) -> str:
    """Which ladder of the incident is running: "" for the first, its start once restarted."""
    return row.ladder_at.strftime(_STAMP) if row.ladder_at is not None else ""


def step_tag(row: Any, index: int) -> str:
    """The tag of step `index`'s outbox keys in the incident's current ladder."""
    ladder = ladder_id(row)
    return f"{index}~{ladder}" if ladder else f"{index}"


def parse_tag(tag: str) -> tuple[int | None, str]:
    """(step index, ladder id) of a key's tag; index None when it is no step's (a notice,
    a reassignment's page)."""
    index, _, ladder = tag.partition("~")
    return (int(index) if index.isdigit() else None), ladder


# Which of the due incident rows are quiet now (a maintenance window, a silence): their levels
# wait (escalation/quiet.py builds it from the config and the stored silences).
Held = Callable[[AsyncConnection, Sequence[Any], datetime], Awaitable[set[int]]]


class Resolver(Protocol):
    """Resolves a level's names at the instant `at`, reading what it needs (stored rota
    overrides) through `conn`."""

    async def __call__(
        self, conn: AsyncConnection, names: Sequence[str], at: datetime
    ) -> Recipients: ...


async def as_channels(conn: AsyncConnection, names: Sequence[str], at: datetime) -> Recipients:
    """The resolver without config: every name is a notifier (tests, tools)."""
    return channels_only(names)


@dataclass
class Fired:
    """What firing some steps of one incident wrote: outbox rows and timeline entries still
    to insert, and where its ladder stands now."""

    next_index: int
    next_at: datetime | None
    pages: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)


async def fire_steps(
    conn: AsyncConnection,
    row: Any,
    steps: Sequence[planning.Step],
    fired: Fired,
    now: datetime,
    resolve: Resolver,
) -> Fired:
    """Resolve and page `steps` of incident `row` at `now`; `fired` holds the ladder's next
    index and time after them. A last step that reaches nobody pulls in the step after it
    (its time not come), as often as needed."""
    queue = list(steps)
    # A storm's leader pages for its whole group: the message lists every incident of it.
    data = await with_group(conn, row, payload(row)) if queue else {}
    plan: list[planning.Step] | None = None
    while queue:
        step = queue.pop(0)
        found = await resolve(conn, step.notify, now)
        missed = "; ".join(f"{n.name}: {n.why}" for n in found.nobody)
        facts = {
            "step": step.index,
            "cycle": step.cycle,
            "due_at": step.due_at.isoformat(),
            "names": list(step.notify),
        }
        head = f"level {step.level} ({step.event})"
        if not found.empty:
            fired.pages += [
                page_row(row.id, step_tag(row, step.index), step.event, step.level, t, data, now)
                for t in targets(found)
            ]
            told = f"{head}: notified {found.describe()}" + (f" ({missed})" if missed else "")
            fired.entries.append(_entry(row.id, now, "paged", told, facts))
            continue
        if queue:  # the next step is due anyway
            told = f"{head} reached nobody ({missed})"
            fired.entries.append(_entry(row.id, now, "unreached", told, facts))
            continue
        plan = plan if plan is not None else planning.plan(row.policy, base(row))
        if fired.next_index >= len(plan):
            told = f"{head} reached nobody ({missed}) and the policy has no further level"
            fired.entries.append(_entry(row.id, now, "unreached", told, facts))
            continue
        told = f"{head} reached nobody ({missed}): escalating to the next level now"
        fired.entries.append(_entry(row.id, now, "unreached", told, facts))
        queue.append(plan[fired.next_index])
        fired.next_index += 1
        fired.next_at = plan[fired.next_index].due_at if fired.next_index < len(plan) else None
    return fired


def _entry(
    incident_id: int, now: datetime, kind: str, message: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "at": now,
        "kind": kind,
        "actor": "escalatord",
        "message": message,
        "data": data,
    }


async def fire_due_steps(
    conn: AsyncConnection,
    now: datetime,
    *,
    lock: Any = None,
    limit: int = 500,
    resolver: Resolver | None = None,
    held: Held | None = None,
) -> int:
    """Turn every escalation step due by `now` into outbox rows; returns rows enqueued.

    `held` names the due incidents that are quiet now: they are left due, so their levels
    fire at the first tick after the quiet time ends (several at once if several fell due).

    `resolver` resolves each level's names (default: all are notifiers). `lock` wraps the
    select (FOR UPDATE SKIP LOCKED on PostgreSQL, so several nodes never fire one step
    twice). The step index is stored with the rows in one transaction, so a restart fires
    each step once and never repeats an earlier one.
    """
    stmt = (
        select(incidents)
        .where(
            and_(
                incidents.c.status == IncidentStatus.TRIGGERED.value,
                incidents.c.next_step_at.is_not(None),
                incidents.c.next_step_at <= now,
            )
        )
        .order_by(incidents.c.next_step_at)
        .limit(limit)
    )
    if lock is not None:
        stmt = lock(stmt)
    resolve = resolver or as_channels
    # Written in bulk: one SELECT of the keys, then one INSERT per table and one UPDATE for
    # all due incidents, instead of four statements per incident: a storm fires many at once
    # (bench/RESULTS.md, "Issue 6: pages leave fast").
    pages: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    rows = (await conn.execute(stmt)).all()
    quiet = await held(conn, rows, now) if held is not None and rows else set()
    for row in rows:
        if row.id in quiet:
            continue
        steps, next_index, next_at = planning.due(row.policy, base(row), row.next_step, now)
        fired = await fire_steps(conn, row, steps, Fired(next_index, next_at), now, resolve)
        pages += fired.pages
        entries += fired.entries
        moves.append({"b_id": row.id, "b_next_step": fired.next_index, "b_next_at": fired.next_at})
    enqueued = await insert_pages(conn, pages)
    if entries:
        await conn.execute(insert(timeline), entries)
    if moves:
        await conn.execute(
            update(incidents)
            .where(incidents.c.id == bindparam("b_id"))
            .values(next_step=bindparam("b_next_step"), next_step_at=bindparam("b_next_at")),
            moves,
        )
    return enqueued


async def page_now(
    conn: AsyncConnection,
    row: Any,
    step: planning.Step,
    following: planning.Step | None,
    now: datetime,
    resolver: Resolver | None = None,
) -> int:
    """Page `step` of incident `row` now, before its time (the step before it reached
    nobody), and move the ladder past it; returns rows enqueued."""
    fired = Fired(step.index + 1, following.due_at if following else None)
    fired = await fire_steps(conn, row, [step], fired, now, resolver or as_channels)
    enqueued = await insert_pages(conn, fired.pages)
    if fired.entries:
        await conn.execute(insert(timeline), fired.entries)
    await conn.execute(
        update(incidents)
        .where(incidents.c.id == row.id)
        .values(next_step=fired.next_index, next_step_at=fired.next_at)
    )
    return enqueued
