"""Satellites in a cluster: what the node receiving a batch shares with the others through the
store (tables `satellite_heard` and `satellite_results`), on SQLite and PostgreSQL.

    await store_batch(conn, "boston", now, rows)   # the receiving node, once per batch
    heard = await last_heard(conn)                 # {satellite: last batch at any node}
    rows, dropped = await claim(conn, names, now)  # the owner: its checks' rows, deleted

A satellite may push to any node (a load balancer in front of the cluster). The node that
receives a batch applies the results of the checks it owns, and stores the fresh results of
checks another node owns; the owner claims them at its catch-up round (monitor/handover.py
`catch_up`, satellite/link.py `RelayedCheck.relayed`) and applies them in time order. The
batch's arrival is stored too, so whichever node owns `satellite:<name>` judges silence from
every node's batches, not from those it received itself.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core.status import Result, Status
from escalatord.store import upsert
from escalatord.store.tables import satellite_heard, satellite_results

# Rows no owner claimed for this long are dropped (with a log line): their check left the
# config, or was disabled, after the batch was stored. An owner claims its rows every
# renew_every seconds, so only such orphans ever get this old.
ORPHANED_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Held:
    """A result stored by the node that received it, for the check's owner."""

    id: int
    satellite: str
    check: str
    result: Result  # `at`: when the satellite took it
    received_at: datetime


async def store_batch(
    conn: AsyncConnection, satellite: str, now: datetime, rows: Sequence[tuple[str, Result]]
) -> None:
    """Note that `satellite` was heard at `now` (kept when a later arrival is stored already)
    and store `rows` (check, result) for the checks' owners."""
    stmt = upsert.insert(conn, satellite_heard).values(satellite=satellite, last_heard=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[satellite_heard.c.satellite],
        set_={"last_heard": stmt.excluded.last_heard},
        where=satellite_heard.c.last_heard < stmt.excluded.last_heard,
    )
    await conn.execute(stmt)
    if rows:
        await conn.execute(
            satellite_results.insert(),
            [
                {
                    "satellite": satellite,
                    "check": check,
                    "status": result.status.value,
                    "summary": result.summary,
                    "measurements": result.measurements,
                    "duration": result.duration,
                    "at": result.at,
                    "received_at": now,
                }
                for check, result in rows
            ],
        )


async def last_heard(conn: AsyncConnection) -> dict[str, datetime]:
    """When each satellite's last batch arrived at any node of the cluster."""
    rows = await conn.execute(select(satellite_heard.c.satellite, satellite_heard.c.last_heard))
    return {row.satellite: row.last_heard for row in rows}


def _held(row: Any) -> Held:
    result = Result(
        Status(row.status),
        row.summary,
        dict(row.measurements or {}),
        row.duration or 0.0,
        at=row.at,
    )
    return Held(row.id, row.satellite, row.check, result, row.received_at)


def _order(held: Held) -> tuple[datetime, int]:
    assert held.result.at is not None
    return held.result.at, held.id


async def claim(
    conn: AsyncConnection, checks: Collection[str], now: datetime
) -> tuple[list[Held], int]:
    """The stored results of `checks`, oldest taken first, deleted as they are read (call it
    in a write transaction: the claim and the deletion commit together); and how many rows
    were dropped as orphans (stored before `now - ORPHANED_AFTER`, of any check)."""
    held: list[Held] = []
    if checks:
        # DELETE … RETURNING: two nodes that both believe they own a check (a share changing
        # hands) never both apply one row; the one that deletes it does.
        stmt = (
            delete(satellite_results)
            .where(satellite_results.c.check.in_(sorted(checks)))
            .returning(*satellite_results.c)
        )
        held = sorted((_held(row) for row in await conn.execute(stmt)), key=_order)
    orphaned = delete(satellite_results).where(
        satellite_results.c.received_at < now - ORPHANED_AFTER
    )
    dropped = (await conn.execute(orphaned)).rowcount or 0
    return held, dropped
