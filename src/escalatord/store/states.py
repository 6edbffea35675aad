"""Reading and writing check states (the hard/soft state of every check)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.checks.base import Status
from escalatord.monitor.state import CheckState
from escalatord.store import upsert
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
    stmt = upsert.insert(conn, check_states)
    stmt = stmt.on_conflict_do_update(
        index_elements=[check_states.c.check],
        set_={c.name: stmt.excluded[c.name] for c in check_states.c if c.name != "check"},
    )
    await conn.execute(stmt, rows)


async def load(
    conn: AsyncConnection, *, page: int | None = None
) -> dict[str, tuple[CheckState, dict[str, Any]]]:
    """Every stored state, by check name, with its last duration and measurements.

    With `page`, the rows are read `page` at a time (in name order) and the loop may run
    between pages: for a caller inside the running daemon (the API), where turning 10,000
    rows into states at once held the loop for ~0.2-0.4 s."""
    out: dict[str, tuple[CheckState, dict[str, Any]]] = {}
    stmt = select(check_states)
    if page is None:
        out.update(_state(r) for r in await conn.execute(stmt))
        return out
    stmt = stmt.order_by(check_states.c.check).limit(page)
    next_page = stmt
    while True:
        rows = (await conn.execute(next_page)).all()
        out.update(_state(r) for r in rows)
        if len(rows) < page:
            return out
        next_page = stmt.where(check_states.c.check > rows[-1].check)
        await asyncio.sleep(0)


def _state(r: Any) -> tuple[str, tuple[CheckState, dict[str, Any]]]:
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
    return r.check, (state, {"duration": r.last_duration, "measurements": r.measurements})
