"""Incident rows: reading them (one by id, the open one for a key, the list), and what
notifications say about one (`view`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core.events import IncidentView
from escalatord.core.lifecycle import IncidentStatus
from escalatord.errors import NotFound
from escalatord.store.tables import incidents

OPEN = (IncidentStatus.TRIGGERED.value, IncidentStatus.ACKNOWLEDGED.value)


def view(row: Any, base_url: str = "") -> IncidentView:
    """What notifications say about an incident row.

    `ack_url` stays None here: a link is signed per page and recipient when the dispatcher
    sends it (notify/links.py), so every retry of one page carries the same link.
    """
    return IncidentView(
        id=str(row.id),
        key=row.key,
        title=row.title,
        status=row.status,
        severity=row.severity,
        check=row.check,
        labels=dict(row.labels or {}),
        owner=row.owner or "",
        runbook=row.runbook or "",
        steps=tuple(row.steps or ()),
        summary=row.summary or "",
        opened_at=row.opened_at,
        ack_url=None,
        affected=tuple(row.affected or ()),
        acknowledged_by=row.acknowledged_by or "",
        category=row.category,
        priority=row.priority,
        drill=bool(row.drill),
    )


async def get(conn: AsyncConnection, incident_id: int, *, lock: bool = False) -> Any:
    """The incident row; `lock` takes its row lock (PostgreSQL; SQLite's one writer already
    serialises), so a check-then-change cannot race another node or the CLI."""
    stmt = select(incidents).where(incidents.c.id == incident_id)
    row = (await conn.execute(stmt.with_for_update() if lock else stmt)).first()
    if row is None:
        raise NotFound(f"no incident with id {incident_id}")
    return row


async def find_open(conn: AsyncConnection, key: str) -> Any | None:
    return (await conn.execute(select(incidents).where(incidents.c.open_key == key))).first()


async def list_incidents(
    conn: AsyncConnection, *, include_closed: bool = False, category: str | None = None
) -> list[Any]:
    """Open incidents (all of them with include_closed), newest first; with `category`, only
    those of that `[[category]]`."""
    stmt = select(incidents).order_by(incidents.c.id.desc())
    if category is not None:
        stmt = stmt.where(incidents.c.category == category)
    if not include_closed:
        stmt = stmt.where(incidents.c.status.in_(OPEN))
    return list((await conn.execute(stmt)).all())
