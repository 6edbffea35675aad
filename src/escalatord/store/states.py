"""Reading and writing check states (the hard/soft state of every check)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.checks.base import Status
from escalatord.monitor.state import CheckState
from escalatord.store.tables import check_states


def _row(name: str, state: CheckState, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "check": name,
        "status": state.status.value,
        "hard": int(state.hard),
        "attempts": state.attempts,
        "pending": state.pending.value if state.pending else None,
        "since": state.since,
        "last_status": state.last_status.value if state.last_status else None,
        "last_summary": state.last_summary,
        "last_check_at": state.last_check_at,
        "last_duration": extra.get("duration"),
        "measurements": extra.get("measurements"),
    }


async def save(
    conn: AsyncConnection,
    states: Iterable[tuple[str, CheckState, dict[str, Any]]],
) -> None:
    """Upsert many states in one statement (batched writes are ~50x faster on SQLite)."""
    rows = [_row(name, state, extra) for name, state, extra in states]
    if not rows:
        return
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(check_states)
    stmt = stmt.on_conflict_do_update(
        index_elements=[check_states.c.check],
        set_={c.name: stmt.excluded[c.name] for c in check_states.c if c.name != "check"},
    )
    await conn.execute(stmt, rows)


async def load(conn: AsyncConnection) -> dict[str, tuple[CheckState, dict[str, Any]]]:
    """Every stored state, by check name, with its last duration and measurements."""
    out: dict[str, tuple[CheckState, dict[str, Any]]] = {}
    for r in await conn.execute(select(check_states)):
        state = CheckState(
            status=Status(r.status),
            hard=bool(r.hard),
            attempts=r.attempts,
            pending=Status(r.pending) if r.pending else None,
            since=r.since,
            last_status=Status(r.last_status) if r.last_status else None,
            last_summary=r.last_summary or "",
            last_check_at=r.last_check_at,
        )
        out[r.check] = (state, {"duration": r.last_duration, "measurements": r.measurements})
    return out
