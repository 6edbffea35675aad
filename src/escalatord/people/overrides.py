"""Run-time rota overrides (`escalatord oncall override`), kept in the `schedule_overrides`
table on SQLite and PostgreSQL.

An override puts one person on call in one schedule from `start` (included) until `end`
(excluded), above every layer and above the schedule's own overrides from config (see
core/oncall.py). Every function takes a connection; writes belong in `store.write()`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core.oncall import Override
from escalatord.errors import NotFound
from escalatord.store.tables import schedule_overrides


@dataclass(frozen=True)
class StoredOverride:
    """One stored override, with its id (for `remove`), who added it and when."""

    id: int
    schedule: str
    person: str
    start: datetime
    end: datetime
    created_at: datetime
    created_by: str

    def override(self) -> Override:
        return Override(self.person, self.start, self.end)


def _stored(row: object) -> StoredOverride:
    return StoredOverride(
        id=row.id,  # type: ignore[attr-defined]
        schedule=row.schedule,  # type: ignore[attr-defined]
        person=row.person,  # type: ignore[attr-defined]
        start=row.from_at,  # type: ignore[attr-defined]
        end=row.until_at,  # type: ignore[attr-defined]
        created_at=row.created_at,  # type: ignore[attr-defined]
        created_by=row.created_by,  # type: ignore[attr-defined]
    )


async def add(
    conn: AsyncConnection,
    schedule: str,
    person: str,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    by: str,
) -> StoredOverride:
    """Store an override; ValueError when it ends before it starts or has already ended."""
    if end <= start:
        raise ValueError("an override's --until must be later than its --from")
    if end <= now:
        raise ValueError("this override has already ended: --until is in the past")
    values = {
        "schedule": schedule,
        "person": person,
        "from_at": start,
        "until_at": end,
        "created_at": now,
        "created_by": by,
    }
    result = await conn.execute(insert(schedule_overrides).values(**values))
    return StoredOverride(
        id=result.inserted_primary_key[0], schedule=schedule, person=person,
        start=start, end=end, created_at=now, created_by=by,
    )  # fmt: skip


async def listed(
    conn: AsyncConnection, *, schedule: str | None = None, after: datetime | None = None
) -> list[StoredOverride]:
    """Stored overrides (of `schedule`, or all) that end after `after` (or all), by start."""
    stmt = select(schedule_overrides)
    if schedule is not None:
        stmt = stmt.where(schedule_overrides.c.schedule == schedule)
    if after is not None:
        stmt = stmt.where(schedule_overrides.c.until_at > after)
    stmt = stmt.order_by(schedule_overrides.c.from_at, schedule_overrides.c.id)
    return [_stored(row) for row in (await conn.execute(stmt)).all()]


async def remove(conn: AsyncConnection, override_id: int) -> StoredOverride:
    """Delete one stored override and return it; NotFound when there is none with that id."""
    row = (
        await conn.execute(select(schedule_overrides).where(schedule_overrides.c.id == override_id))
    ).first()
    if row is None:
        raise NotFound(f"no rota override {override_id}; `escalatord oncall overrides` lists them")
    await conn.execute(delete(schedule_overrides).where(schedule_overrides.c.id == override_id))
    return _stored(row)


async def in_force(
    conn: AsyncConnection, schedules: Iterable[str], start: datetime, end: datetime
) -> dict[str, tuple[Override, ...]]:
    """The stored overrides of each of `schedules` that overlap [start, end), in the order
    they were added (a later one wins where they overlap: core/oncall.py)."""
    names = sorted(set(schedules))
    found: dict[str, tuple[Override, ...]] = {name: () for name in names}
    if not names:
        return found
    rows = await conn.execute(
        select(schedule_overrides)
        .where(
            and_(
                schedule_overrides.c.schedule.in_(names),
                schedule_overrides.c.from_at < end,
                schedule_overrides.c.until_at > start,
            )
        )
        .order_by(schedule_overrides.c.id)
    )
    for row in rows.all():
        found[row.schedule] = (*found[row.schedule], _stored(row).override())
    return found
