"""An incident's notifications as outbox rows: the escalation steps that fall due, pages and
notices enqueued once each, and which notifiers were paged.

Rows are only written here; the dispatcher (notify/dispatcher.py) delivers them. Each row's
key "<incident>:<tag>:<event>:<notifier>" makes a repeat impossible.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core import planning
from escalatord.core.events import Event
from escalatord.core.lifecycle import IncidentStatus
from escalatord.incidents.rows import view
from escalatord.store.tables import incidents, outbox, timeline

PAGE_EVENTS = tuple(e.value for e in Event if e.is_page)


async def fire_due_steps(
    conn: AsyncConnection,
    now: datetime,
    *,
    lock: Any = None,
    limit: int = 500,
) -> int:
    """Turn every escalation step due by `now` into outbox rows; returns rows enqueued.

    `lock` wraps the select (FOR UPDATE SKIP LOCKED on PostgreSQL, so several nodes never
    fire one step twice). The step index is stored with the rows in one transaction, so a
    restart fires each step once and never repeats an earlier one.
    """
    stmt = (
        select(incidents)
        .where(
            and_(
                incidents.c.status == IncidentStatus.TRIGGERED.value,
                incidents.c.next_step_at.is_not(None),
                incidents.c.next_step_at <= now,
            )
        )
        .order_by(incidents.c.next_step_at)
        .limit(limit)
    )
    if lock is not None:
        stmt = lock(stmt)
    # Written in bulk: one SELECT of the keys, then one INSERT per table and one UPDATE for
    # all due incidents, instead of four statements per incident: a storm fires many at once
    # (bench/RESULTS.md, "Issue 6: pages leave fast").
    pages: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    for row in (await conn.execute(stmt)).all():
        steps, next_index, next_at = planning.due(row.policy, row.opened_at, row.next_step, now)
        payload = _payload(row) if steps else {}
        for step in steps:
            for name in dict.fromkeys(step.notify):
                pages.append(
                    _page(row.id, f"{step.index}", step.event, step.level, name, payload, now)
                )
            entries.append(
                {
                    "incident_id": row.id,
                    "at": now,
                    "kind": "paged",
                    "actor": "escalatord",
                    "message": (
                        f"level {step.level} ({step.event}): notified {', '.join(step.notify)}"
                    ),
                    "data": {
                        "step": step.index,
                        "cycle": step.cycle,
                        "due_at": step.due_at.isoformat(),
                    },
                }
            )
        moves.append({"b_id": row.id, "b_next_step": next_index, "b_next_at": next_at})
    enqueued = await _insert_pages(conn, pages)
    if entries:
        await conn.execute(insert(timeline), entries)
    if moves:
        await conn.execute(
            update(incidents)
            .where(incidents.c.id == bindparam("b_id"))
            .values(next_step=bindparam("b_next_step"), next_step_at=bindparam("b_next_at")),
            moves,
        )
    return enqueued


def _payload(row: Any) -> dict[str, Any]:
    payload = view(row).to_json()
    payload["status"] = row.status
    payload["acknowledged_by"] = row.acknowledged_by or ""
    return payload


def _page(
    incident_id: int,
    tag: str,
    event: Event,
    level: int,
    notifier: str,
    payload: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """One outbox row; its key "<incident>:<tag>:<event>:<notifier>" makes a repeat impossible."""
    return {
        "key": f"{incident_id}:{tag}:{event}:{notifier}",
        "incident_id": incident_id,
        "notifier": notifier,
        "event": str(event),
        "level": level,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }


async def _insert_pages(conn: AsyncConnection, pages: list[dict[str, Any]]) -> int:
    """Insert the outbox rows whose key is not there yet, in order; returns how many."""
    if not pages:
        return 0
    keys = [page["key"] for page in pages]
    known: set[str] = set()
    for start in range(0, len(keys), 500):  # bounded IN lists
        chunk = keys[start : start + 500]
        known.update(
            (await conn.execute(select(outbox.c.key).where(outbox.c.key.in_(chunk)))).scalars()
        )
    new = [page for page in dict((p["key"], p) for p in pages).values() if page["key"] not in known]
    if new:
        await conn.execute(insert(outbox), new)
    return len(new)


async def enqueue(
    conn: AsyncConnection,
    row: Any,
    event: Event,
    level: int,
    notifiers: Iterable[str],
    now: datetime,
    *,
    tag: str,
) -> int:
    """Insert one outbox row per notifier; the idempotency key makes a repeat impossible."""
    payload = _payload(row)
    pages = [
        _page(row.id, tag, event, level, name, payload, now) for name in dict.fromkeys(notifiers)
    ]
    return await _insert_pages(conn, pages)


async def paged_notifiers(conn: AsyncConnection, incident_id: int) -> list[str]:
    """Notifiers that received (or are still trying to deliver) a page for the incident, in
    first-paged order. A notifier whose page failed for good never reached anyone: it is not
    told about the ack or the resolution (its fallback, which did page someone, is)."""
    rows = await conn.execute(
        select(outbox.c.notifier, func.min(outbox.c.id).label("first"))
        .where(
            and_(
                outbox.c.incident_id == incident_id,
                outbox.c.event.in_(PAGE_EVENTS),
                outbox.c.status.in_(("pending", "delivered")),
            )
        )
        .group_by(outbox.c.notifier)
        .order_by("first")
    )
    return [r.notifier for r in rows]
