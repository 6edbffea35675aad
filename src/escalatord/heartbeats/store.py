"""Reading and writing heartbeat signals (the `heartbeats` table), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.heartbeats.signals import Signal, Signals
from escalatord.store import upsert
from escalatord.store.tables import heartbeats


def _signals(row: Any) -> Signals:
    return Signals(
        first_seen_at=row.first_seen_at,
        last_ping_at=row.last_ping_at,
        last_start_at=row.last_start_at,
        last_fail_at=row.last_fail_at,
        last_exit_code=row.last_exit_code,
        last_body=row.last_body,
    )


def _insert(conn: AsyncConnection) -> Any:
    return upsert.insert(conn, heartbeats)


async def load(conn: AsyncConnection, check: str) -> Signals | None:
    """The stored signals of `check`; None when it has no row yet."""
    row = (await conn.execute(select(heartbeats).where(heartbeats.c.check == check))).first()
    return None if row is None else _signals(row)


async def load_all(conn: AsyncConnection) -> dict[str, Signals]:
    return {row.check: _signals(row) for row in await conn.execute(select(heartbeats))}


async def first_seen(conn: AsyncConnection, check: str, now: datetime) -> Signals:
    """Note that `check` exists from `now` on, unless already noted; returns its signals."""
    stmt = _insert(conn).values(check=check, first_seen_at=now)
    await conn.execute(stmt.on_conflict_do_nothing(index_elements=[heartbeats.c.check]))
    await conn.execute(
        heartbeats.update()
        .where(heartbeats.c.check == check, heartbeats.c.first_seen_at.is_(None))
        .values(first_seen_at=now)
    )
    signals = await load(conn, check)
    assert signals is not None
    return signals


async def record(
    conn: AsyncConnection,
    check: str,
    signal: Signal,
    now: datetime,
    *,
    exit_code: int | None = None,
    body: str | None = None,
) -> Signals:
    """Store one signal received at `now`; returns the check's signals after it.

    A success or failure replaces the kept body and exit code; a start keeps them (they
    describe the last finished run).
    """
    if signal is Signal.START:
        values: dict[str, Any] = {"last_start_at": now}
    elif signal is Signal.SUCCESS:
        values = {"last_ping_at": now, "last_exit_code": exit_code, "last_body": body}
    else:
        values = {"last_fail_at": now, "last_exit_code": exit_code, "last_body": body}
    stmt = _insert(conn).values(check=check, first_seen_at=now, **values)
    stmt = stmt.on_conflict_do_update(index_elements=[heartbeats.c.check], set_=values)
    await conn.execute(stmt)
    signals = await load(conn, check)
    assert signals is not None
    return signals
