"""Reading and writing check states (the hard/soft state of every check)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core.state import CheckState
from escalatord.core.status import Status
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
        "flap_history": state.flap_history or None,
        "flapping": int(state.flapping),
    }


async def save(
    conn: AsyncConnection,
    states: Iterable[tuple[str, CheckState, dict[str, Any]]],
) -> None:
    """Upsert many states in one statement: SQLite pays per statement, not per row."""
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
    conn: AsyncConnection, *, page: int | None = None, names: Collection[str] | None = None
) -> dict[str, tuple[CheckState, dict[str, Any]]]:
    """Every stored state, by check name, with its last duration and measurements.

    With `page`, the rows are read `page` at a time (in name order) and the loop may run
    between pages: for a caller inside the running daemon (the API), where turning every
    row of a large estate into states at once would hold the loop. With `names`, only
    those checks' states (a node of a cluster taking checks over)."""
    out: dict[str, tuple[CheckState, dict[str, Any]]] = {}
    if names is not None:
        wanted = sorted(names)
        for start in range(0, len(wanted), _NAMES_PER_QUERY):
            chunk = wanted[start : start + _NAMES_PER_QUERY]
            stmt = select(*_COLUMNS).where(check_states.c.check.in_(chunk))
            out.update(_state(r) for r in await conn.execute(stmt))
        return out
    stmt = select(*_COLUMNS)
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
        next_page = stmt.where(check_states.c.check > rows[-1][0])
        await asyncio.sleep(0)


_NAMES_PER_QUERY = 500  # bound parameters per IN (...): SQLite allows a few thousand at most
# By value: Status("ok") goes through Enum.__call__, and a restart reads one row per check.
_STATUS: dict[str | None, Status | None] = {s.value: s for s in Status} | {None: None, "": None}
_COLUMNS = (
    check_states.c.check,
    check_states.c.status,
    check_states.c.hard,
    check_states.c.attempts,
    check_states.c.pending,
    check_states.c.since,
    check_states.c.last_status,
    check_states.c.last_summary,
    check_states.c.last_check_at,
    check_states.c.last_duration,
    check_states.c.measurements,
    check_states.c.flap_history,
    check_states.c.flapping,
)


def _state(row: Any) -> tuple[str, tuple[CheckState, dict[str, Any]]]:
    (name, status, hard, attempts, pending, since, last, summary, at, duration, measured,
     history, flapping) = row  # fmt: skip
    state = CheckState(
        _STATUS[status],  # type: ignore[arg-type]  # never None: the column is NOT NULL
        bool(hard),
        attempts,
        _STATUS[pending],
        since,
        _STATUS[last],
        summary or "",
        at,
        history or "",  # NULL: stored before flap detection (migration 0006), or none yet
        bool(flapping),
    )
    return name, (state, {"duration": duration, "measurements": measured})
