"""Run-time silences (`escalatord silence add`, `POST /api/v1/silences`), kept in the
`silences` table on SQLite and PostgreSQL.

A silence makes the checks it covers (label matchers as rules have, or check names) quiet
from `start` until `end` (core/quiet.py says what quiet means). It is stored with who added
it and why; removing one keeps its row (`removed_at`, `removed_by`) for the record, so
`silence list --all` still shows it. Adding and removing write an entry on the timeline of
every open incident the silence touches (its check or labels are covered), in the same
transaction. Every function takes a connection; writes belong in `store.write()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core.lifecycle import IncidentStatus
from escalatord.core.quiet import Cover, Silence
from escalatord.errors import NotFound
from escalatord.store.tables import incidents, silences, timeline

OPEN = (IncidentStatus.TRIGGERED.value, IncidentStatus.ACKNOWLEDGED.value)


@dataclass(frozen=True)
class StoredSilence:
    """One stored silence with its id, author, reason and, once removed, who removed it."""

    id: int
    cover: Cover
    start: datetime
    end: datetime
    reason: str
    created_by: str
    created_at: datetime
    removed_at: datetime | None = None
    removed_by: str | None = None

    def silence(self) -> Silence:
        """The pure form core/quiet.py reads."""
        return Silence(self.id, self.cover, self.start, self.end, self.reason, self.created_by)

    def to_json(self) -> dict[str, Any]:
        """What `silence list --json` and the API show of it."""
        return {
            "id": self.id,
            "match": {k: v if isinstance(v, str) else list(v) for k, v in self.cover.match.items()},
            "match_re": dict(self.cover.match_re),
            "checks": list(self.cover.checks),
            "starts_at": self.start.isoformat(),
            "ends_at": self.end.isoformat(),
            "reason": self.reason,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "removed_at": self.removed_at.isoformat() if self.removed_at else None,
            "removed_by": self.removed_by,
        }


def _stored(row: Any) -> StoredSilence:
    match = {k: v if isinstance(v, str) else tuple(v) for k, v in (row.match or {}).items()}
    cover = Cover(match, dict(row.match_re or {}), tuple(row.checks or ()))
    return StoredSilence(
        id=row.id, cover=cover, start=row.starts_at, end=row.ends_at, reason=row.reason,
        created_by=row.created_by, created_at=row.created_at, removed_at=row.removed_at,
        removed_by=row.removed_by,
    )  # fmt: skip


async def add(
    conn: AsyncConnection,
    cover: Cover,
    start: datetime,
    end: datetime,
    *,
    reason: str,
    now: datetime,
    by: str,
) -> StoredSilence:
    """Store a silence and note it on the open incidents it touches.

    ValueError (saying how to fix it) when it covers nothing, has no reason, ends before it
    starts or has already ended."""
    if not (cover.match or cover.match_re or cover.checks):
        raise ValueError("say what to silence: --match k=v (labels) or --check NAME")
    if not reason.strip():
        raise ValueError("say why: --reason TEXT is stored with the silence")
    if end <= start:
        raise ValueError("a silence must end after it starts")
    if end <= now:
        raise ValueError("this silence has already ended: give --for or a later --until")
    values = {
        "match": {k: v if isinstance(v, str) else list(v) for k, v in cover.match.items()},
        "match_re": dict(cover.match_re),
        "checks": list(cover.checks),
        "starts_at": start,
        "ends_at": end,
        "reason": reason,
        "created_by": by,
        "created_at": now,
    }
    result = await conn.execute(insert(silences).values(**values))
    added = StoredSilence(
        id=result.inserted_primary_key[0], cover=cover, start=start, end=end, reason=reason,
        created_by=by, created_at=now,
    )  # fmt: skip
    await _note(conn, added, now, by, f"silenced by silence {added.id} until "
                f"{end.isoformat()} ({by}: {reason})")  # fmt: skip
    return added


async def listed(
    conn: AsyncConnection, *, now: datetime, everything: bool = False
) -> list[StoredSilence]:
    """Silences not removed and not ended by `now`, by start; with `everything`, all of them
    (ended and removed ones too)."""
    stmt = select(silences)
    if not everything:
        stmt = stmt.where(and_(silences.c.removed_at.is_(None), silences.c.ends_at > now))
    stmt = stmt.order_by(silences.c.starts_at, silences.c.id)
    return [_stored(row) for row in (await conn.execute(stmt)).all()]


async def remove(
    conn: AsyncConnection, silence_id: int, *, now: datetime, by: str
) -> StoredSilence:
    """End a silence now, keeping its row, and note it on the open incidents it touched.

    NotFound when there is no silence with that id, or it was removed already."""
    row = (await conn.execute(select(silences).where(silences.c.id == silence_id))).first()
    if row is None:
        raise NotFound(f"no silence {silence_id}; `escalatord silence list` lists them")
    if row.removed_at is not None:
        raise NotFound(
            f"silence {silence_id} was removed already, by {row.removed_by} at "
            f"{row.removed_at.isoformat()}"
        )
    await conn.execute(
        update(silences).where(silences.c.id == silence_id).values(removed_at=now, removed_by=by)
    )
    removed = _stored(row)
    removed = StoredSilence(**{**removed.__dict__, "removed_at": now, "removed_by": by})
    if removed.end > now:
        await _note(conn, removed, now, by, f"silence {silence_id} removed by {by}")
    return removed


async def in_force(conn: AsyncConnection, now: datetime) -> list[Silence]:
    """The silences not removed that have not ended by `now` (those still to start too)."""
    return [s.silence() for s in await listed(conn, now=now)]


async def _note(
    conn: AsyncConnection, silence: StoredSilence, now: datetime, by: str, message: str
) -> None:
    """A timeline entry on every open incident `silence` covers (its check or labels)."""
    rows = await conn.execute(
        select(incidents.c.id, incidents.c.check, incidents.c.labels).where(
            incidents.c.status.in_(OPEN)
        )
    )
    entries = [
        {
            "incident_id": row.id,
            "at": now,
            "kind": "quiet",
            "actor": by,
            "message": message,
            "data": {"silence": silence.id},
        }
        for row in rows.all()
        if silence.cover.covers(row.check, row.labels or {})
    ]
    if entries:
        await conn.execute(insert(timeline), entries)
