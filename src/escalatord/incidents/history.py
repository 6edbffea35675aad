"""The incident history `escalatord report` measures: a read-only query, nothing more.

`history(conn, since)` returns the incidents opened at or after `since` and the pages
delivered to people for them, as core/report.py's rows; the figures are computed there.
`drill_steps(conn, since)` returns the pages enqueued for the drills among them, from which
core/report.py tells the level each drill was acknowledged at.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core.report import IncidentRow, PageRow, StepRow
from escalatord.incidents.outbox import PAGE_EVENTS
from escalatord.store.tables import incidents, outbox


async def history(
    conn: AsyncConnection, since: datetime
) -> tuple[list[IncidentRow], list[PageRow]]:
    """Incidents opened at or after `since` (oldest first) and their delivered person pages.

    An incident is `escalated` when a page of level ≥ 1 was enqueued for it and not muted
    (a muted row was never sent). A drill is `incidents.drill = 1`; NULL is not a drill."""
    escalated = exists().where(
        and_(
            outbox.c.incident_id == incidents.c.id,
            outbox.c.event.in_(PAGE_EVENTS),
            outbox.c.level >= 1,
            outbox.c.status != "muted",
        )
    )
    rows = await conn.execute(
        select(
            incidents.c.id,
            incidents.c.check,
            incidents.c.labels,
            incidents.c.category,
            incidents.c.drill,
            incidents.c.opened_at,
            incidents.c.acknowledged_at,
            incidents.c.acknowledged_by,
            incidents.c.resolved_at,
            escalated.label("escalated"),
        )
        .where(incidents.c.opened_at >= since)
        .order_by(incidents.c.opened_at, incidents.c.id)
    )
    found = [
        IncidentRow(
            id=r.id,
            check=r.check,
            opened_at=r.opened_at,
            acknowledged_at=r.acknowledged_at,
            acknowledged_by=r.acknowledged_by,
            resolved_at=r.resolved_at,
            site=(r.labels or {}).get("site"),
            category=r.category,
            drill=bool(r.drill),
            escalated=bool(r.escalated),
        )
        for r in rows
    ]
    paged = await conn.execute(
        select(outbox.c.incident_id, outbox.c.person, outbox.c.level, outbox.c.delivered_at)
        .select_from(outbox.join(incidents, outbox.c.incident_id == incidents.c.id))
        .where(
            incidents.c.opened_at >= since,
            outbox.c.person.is_not(None),
            outbox.c.status == "delivered",
            outbox.c.event.in_(PAGE_EVENTS),
            outbox.c.delivered_at.is_not(None),
        )
        .order_by(outbox.c.delivered_at, outbox.c.id)
    )
    pages = [PageRow(r.incident_id, r.person, r.level, r.delivered_at) for r in paged]
    return found, pages


async def drill_steps(conn: AsyncConnection, since: datetime) -> list[StepRow]:
    """The pages enqueued for drills opened at or after `since`, each distinct (incident,
    level, instant) once, oldest first: any target and any status (a page muted by the ack
    was still the level the drill had reached), as the ack's timeline entry counts them."""
    rows = await conn.execute(
        select(outbox.c.incident_id, outbox.c.level, outbox.c.created_at)
        .select_from(outbox.join(incidents, outbox.c.incident_id == incidents.c.id))
        .where(
            incidents.c.opened_at >= since,
            incidents.c.drill == 1,
            outbox.c.event.in_(PAGE_EVENTS),
        )
        .distinct()
        .order_by(outbox.c.created_at, outbox.c.incident_id, outbox.c.level)
    )
    return [StepRow(r.incident_id, r.level, r.created_at) for r in rows]
