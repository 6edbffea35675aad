"""An incident's timeline: every change leaves an entry, read back oldest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.store.tables import timeline


async def add_timeline(
    conn: AsyncConnection,
    incident_id: int,
    now: datetime,
    kind: str,
    message: str,
    *,
    actor: str = "escalatord",
    data: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        insert(timeline).values(
            incident_id=incident_id,
            at=now,
            kind=kind,
            actor=actor,
            message=message,
            data=data,
        )
    )


async def get_timeline(conn: AsyncConnection, incident_id: int) -> list[Any]:
    return list(
        (
            await conn.execute(
                select(timeline)
                .where(timeline.c.incident_id == incident_id)
                .order_by(timeline.c.id)
            )
        ).all()
    )
