"""Acknowledge, resolve and close: the lifecycle's transitions (lifecycle.py) applied to a
stored incident. Each one stops the escalation, mutes pages not yet sent, leaves a timeline
entry and tells everyone who was paged: each notifier, and each person at the contacts their
page went out to (outbox.py `paged_targets`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core import planning
from escalatord.core.events import Event
from escalatord.core.lifecycle import IncidentStatus, after
from escalatord.errors import InvalidTransition
from escalatord.incidents import groups
from escalatord.incidents.outbox import PAGE_EVENTS, enqueue, paged_targets
from escalatord.incidents.rows import find_open, get
from escalatord.incidents.timeline import add_timeline
from escalatord.store.tables import incidents, outbox, timeline


async def _finish_paging(
    conn: AsyncConnection, incident_id: int, now: datetime, wake_at: datetime | None = None
) -> None:
    """Stop the ladder and mute pages not yet delivered (the dispatcher would drop them too).

    `wake_at`: when an acknowledged incident is re-triggered if still open (its policy's
    `ack_timeout`, incidents/rearm.py); the timer of an acknowledged incident is that."""
    await conn.execute(
        update(incidents).where(incidents.c.id == incident_id).values(next_step_at=wake_at)
    )
    await conn.execute(
        update(outbox)
        .where(
            and_(
                outbox.c.incident_id == incident_id,
                outbox.c.status == "pending",
                outbox.c.event.in_(PAGE_EVENTS),
            )
        )
        .values(status="muted", last_error="incident no longer triggered")
    )


async def _change(
    conn: AsyncConnection,
    incident_id: int,
    action: str,
    now: datetime,
    by: str,
    event: Event,
    values: dict[str, Any],
    message: str,
) -> Any:
    row = await get(conn, incident_id, lock=True)  # an ack racing a resolve waits, then sees it
    new_status = after(IncidentStatus(row.status), action)  # raises InvalidTransition
    if not new_status.is_open:
        values = {**values, "open_key": None}
    await conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(status=new_status.value, **values)
    )
    # Who was paged is read before unsent pages are muted: a page in flight may still arrive,
    # and telling one person too many that it is handled beats leaving one paged in the dark.
    # A storm's incidents were paged through their group's leader(s): those pages count.
    holders = await groups.page_holders(conn, row)
    notify = await paged_targets(conn, holders)
    if action != "ack":  # a leader that ends hands the group's ladder on (groups.py)
        await groups.hand_over(conn, row, now)
    timeout = planning.ack_timeout(row.policy) if action == "ack" else None
    await _finish_paging(conn, incident_id, now, now + timeout if timeout else None)
    tag = await repeat_tag(conn, incident_id, action_kind(action), event.value)
    level = (
        await conn.execute(
            select(func.max(outbox.c.level)).where(
                and_(outbox.c.incident_id.in_(holders), outbox.c.event.in_(PAGE_EVENTS))
            )
        )
    ).scalar()
    # A drill is there to measure: its ack records who took it, at which level and after how
    # long, the rehearsal's time to acknowledge (report.py keeps it out of real MTTA).
    data = None
    if action == "ack" and row.drill:
        seconds = round((now - row.opened_at).total_seconds(), 3)
        data = {"drill": True, "by": by, "level": level or 0, "seconds": seconds}
    await add_timeline(conn, incident_id, now, action_kind(action), message, actor=by, data=data)
    row = await get(conn, incident_id)
    await enqueue(conn, row, event, level or 0, notify, now, tag=tag)
    return row


def action_kind(action: str) -> str:
    return {"ack": "acknowledged", "resolve": "resolved", "close": "closed"}[action]


async def repeat_tag(conn: AsyncConnection, incident_id: int, kind: str, name: str) -> str:
    """The outbox tag of what is about to happen to the incident for the n-th time (n = its
    earlier `kind` timeline entries): `name`, then "<name>.1", "<name>.2"… An incident
    re-triggered (rearm.py) can be acknowledged again, and each ack's notices need keys of
    their own; the incident is locked, so the count cannot race."""
    earlier = (
        await conn.execute(
            select(func.count())
            .select_from(timeline)
            .where(and_(timeline.c.incident_id == incident_id, timeline.c.kind == kind))
        )
    ).scalar()
    return f"{name}.{earlier}" if earlier else name


async def acknowledge(
    conn: AsyncConnection, incident_id: int, *, by: str, now: datetime, how: str = ""
) -> Any:
    """Acknowledge: escalation stops and everyone paged so far is told who took it. Under a
    policy with `ack_timeout` the incident's timer is set to re-trigger it then if still open.

    `how` is added to the timeline message, e.g. "from the ack link in a page to oncall-sms".
    An incident of a storm's group acknowledges the group: its leader, and every triggered
    member with it (incidents/groups.py); the row returned is `incident_id`'s.
    """
    target = await groups.ack_target(conn, incident_id)
    row = await _change(
        conn,
        target,
        "ack",
        now,
        by,
        Event.ACKNOWLEDGED,
        {"acknowledged_at": now, "acknowledged_by": by, "snoozed_until": None},
        f"acknowledged by {by}" + (f" {how}" if how else ""),
    )
    if row.group_id is not None:
        await groups.acknowledge_members(conn, row.group_id, by=by, now=now)
    return row if target == incident_id else await get(conn, incident_id)


async def resolve(
    conn: AsyncConnection,
    incident_id: int,
    *,
    by: str,
    now: datetime,
    reason: str = "",
) -> Any:
    """Resolve: escalation stops and every notifier that was paged is sent `resolved`."""
    message = f"resolved by {by}" + (f": {reason}" if reason else "")
    return await _change(
        conn,
        incident_id,
        "resolve",
        now,
        by,
        Event.RESOLVED,
        {"resolved_at": now, "resolved_by": by},
        message,
    )


async def close(
    conn: AsyncConnection,
    incident_id: int,
    *,
    note: str,
    by: str,
    now: datetime,
) -> Any:
    """Close with a note (required): the incident is finished with."""
    if not note or not note.strip():
        raise InvalidTransition('closing an incident needs a note (--note "what was done")')
    row = await get(conn, incident_id, lock=True)
    values: dict[str, Any] = {"closed_at": now, "close_note": note.strip()}
    if IncidentStatus(row.status).is_open:
        values |= {"resolved_at": now, "resolved_by": by}
    return await _change(
        conn, incident_id, "close", now, by, Event.CLOSED, values, f"closed by {by}: {note.strip()}"
    )


async def resolve_key(
    conn: AsyncConnection,
    key: str,
    *,
    now: datetime,
    summary: str,
    by: str = "recovery",
) -> int | None:
    """Resolve the open incident for `key`, if any (a check recovered, or a sender said the
    alert resolved). The summary, when given, replaces the incident's. Returns its id."""
    row = await find_open(conn, key)
    if row is None:
        return None
    if summary:
        await conn.execute(
            update(incidents).where(incidents.c.id == row.id).values(summary=summary)
        )
    await resolve(conn, row.id, by=by, now=now, reason=summary)
    return row.id
