"""Taking an incident back from whoever acknowledged it: the end of an acknowledgement
(`ack_timeout`, a snooze) re-triggers it, and `reassign` pages a new owner now.

An acknowledged incident's `next_step_at` is when its acknowledgement runs out: now +
`ack_timeout` when acknowledged under a policy that has one (transitions.py), `snoozed_until`
when snoozed (a snooze wins over `ack_timeout`, shorter or longer). The engine's tick calls
`retrigger_due` and then `fire_due_steps` in one transaction, so level 0 of the restarted
ladder is paged in the same commit that re-triggers.

Like service.py, every function takes a connection inside a write transaction and the
current time, and leaves timeline entries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core import planning
from escalatord.core.durations import format_duration
from escalatord.core.events import Event
from escalatord.core.lifecycle import IncidentStatus
from escalatord.errors import InvalidTransition
from escalatord.incidents import groups
from escalatord.incidents.ladder import Resolver, base
from escalatord.incidents.outbox import enqueue, targets
from escalatord.incidents.rows import get
from escalatord.incidents.timeline import add_timeline
from escalatord.incidents.transitions import acknowledge, repeat_tag
from escalatord.store.tables import incidents

_T, _A = IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED


async def retrigger_due(
    conn: AsyncConnection, now: datetime, *, lock: Any = None, limit: int = 500
) -> list[int]:
    """Re-trigger every acknowledged incident whose acknowledgement ran out by `now`; returns
    their ids.

    Still open means still failing: a check's incident is resolved when its check recovers,
    and an ingested alert's when its sender says so, so an acknowledged incident that is
    still open is one whose problem is still there. Each goes back to triggered with
    `acknowledged_*` and `snoozed_until` cleared, and its ladder restarts from level 0 at
    `now` (`ladder_at`; ladder.py gives the restarted ladder's keys their own tags). `lock`
    wraps the select (FOR UPDATE SKIP LOCKED on PostgreSQL), so two nodes never re-trigger
    one incident twice: the second sees it triggered once the first commits.
    """
    stmt = (
        select(incidents)
        .where(
            and_(
                incidents.c.status == _A.value,
                incidents.c.next_step_at.is_not(None),
                incidents.c.next_step_at <= now,
            )
        )
        .order_by(incidents.c.next_step_at)
        .limit(limit)
    )
    if lock is not None:
        stmt = lock(stmt)
    done = []
    for row in (await conn.execute(stmt)).all():
        await _retrigger(conn, row, now)
        done.append(row.id)
    return done


async def _retrigger(conn: AsyncConnection, row: Any, now: datetime) -> None:
    who = row.acknowledged_by or "someone"
    if row.snoozed_until is not None:
        why = f"snooze by {who} ended"
    else:
        ago = format_duration(now - row.acknowledged_at) if row.acknowledged_at else "long"
        why = f"acknowledged by {who} {ago} ago"
    first = planning.plan(row.policy, now)[0] if row.policy else None
    await conn.execute(
        update(incidents)
        .where(incidents.c.id == row.id)
        .values(
            status=_T.value,
            acknowledged_at=None,
            acknowledged_by=None,
            snoozed_until=None,
            ladder_at=now,
            next_step=0,
            next_step_at=first.due_at if first else None,
        )
    )
    if first is None:
        then = "re-triggered; it has no policy, so nobody is paged"
    elif first.due_at <= now:
        then = "re-triggered, paging level 0 again"
    else:
        then = f"re-triggered, paging level 0 again in {format_duration(first.due_at - now)}"
    await add_timeline(
        conn,
        row.id,
        now,
        "retriggered",
        f"{why} and still failing: {then}",
        data={"acknowledged_by": row.acknowledged_by, "ladder_at": now.isoformat()},
    )
    if row.group_id == row.id:  # a storm's leader: its members are paged with it again
        await groups.retrigger_members(conn, row.id, now)


async def snooze(
    conn: AsyncConnection, incident_id: int, *, until: datetime, by: str, now: datetime
) -> Any:
    """Acknowledge the incident as `by` until `until` (a triggered one is acknowledged: its
    escalation stops and everyone paged is told; an acknowledged one has its snooze set to
    `until`, now `by`'s). When `until` passes with the incident still open, the tick
    re-triggers it (`retrigger_due`). InvalidTransition when it is resolved or closed, or
    `until` is not after `now`."""
    if until <= now:
        raise InvalidTransition("a snooze must end in the future")
    row = await get(conn, incident_id, lock=True)
    status = IncidentStatus(row.status)
    if not status.is_open:
        raise InvalidTransition(f"incident {incident_id} is already {status}; nothing to snooze")
    end = f"until {until:%Y-%m-%d %H:%M:%S} UTC"
    if status is _T:
        await acknowledge(conn, incident_id, by=by, now=now, how=f"(snoozed {end})")
    else:
        await add_timeline(conn, incident_id, now, "snoozed", f"snoozed by {by} {end}", actor=by)
    # A storm's member is snoozed through its group's leader: the leader's ladder restarts at
    # the end and pages for the group (groups.py); a member has no ladder of its own.
    timer = await groups.lead(conn, incident_id)
    await conn.execute(
        update(incidents)
        .where(incidents.c.id.in_({incident_id, timer}))
        .values(snoozed_until=until, acknowledged_by=by)
    )
    await conn.execute(update(incidents).where(incidents.c.id == timer).values(next_step_at=until))
    return await get(conn, incident_id)


async def reassign(
    conn: AsyncConnection,
    incident_id: int,
    *,
    to: str,
    by: str,
    now: datetime,
    resolver: Resolver,
) -> tuple[Any, int]:
    """Make `to` (a person, team, schedule or notifier, resolved by `resolver` at `now` as a
    level's names are) the incident's owner and page it now; returns the row and the outbox
    rows enqueued.

    An acknowledged incident goes back to triggered first, so the new owner's page is not
    muted; its ladder keeps its times (a level whose time passed while it was acknowledged
    is paged at the next tick, as after a restart: a level is never skipped). The page's
    keys are tagged "reassigned" (".<n>" for the n-th repeat). InvalidTransition when the
    incident is resolved or closed or `to` reaches nobody now (nothing is changed).
    """
    row = await get(conn, incident_id, lock=True)
    status = IncidentStatus(row.status)
    if not status.is_open:
        raise InvalidTransition(f"incident {incident_id} is already {status}; nothing to reassign")
    found = await resolver(conn, [to], now)
    if found.empty:
        why = "; ".join(n.why for n in found.nobody) or "nobody to page"
        raise InvalidTransition(
            f"{to} reaches nobody now ({why}); incident {incident_id} is unchanged"
        )
    values: dict[str, Any] = {"owner": to}
    steps = planning.plan(row.policy, base(row)) if row.policy else []
    if status is _A:
        following = steps[row.next_step] if row.next_step < len(steps) else None
        values |= {
            "status": _T.value,
            "acknowledged_at": None,
            "acknowledged_by": None,
            "snoozed_until": None,
            "next_step_at": following.due_at if following else None,
        }
    await conn.execute(update(incidents).where(incidents.c.id == incident_id).values(**values))
    tag = await repeat_tag(conn, incident_id, "reassigned", "reassigned")
    was = f" (was {row.owner})" if row.owner else ""
    back = " (it was acknowledged by " + (row.acknowledged_by or "someone") + ")"
    await add_timeline(
        conn,
        incident_id,
        now,
        "reassigned",
        f"reassigned to {to} by {by}{was}: paging {found.describe()} now"
        + (back if status is _A else ""),
        actor=by,
        data={"to": to, "owner_was": row.owner, "tag": tag},
    )
    row = await get(conn, incident_id)
    last = steps[row.next_step - 1] if 0 < row.next_step <= len(steps) else None
    level = last.level if last else 0
    enqueued = await enqueue(conn, row, Event.TRIGGERED, level, targets(found), now, tag=tag)
    return row, enqueued
