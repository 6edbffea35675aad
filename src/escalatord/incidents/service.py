"""The one place that changes incidents: open, dedup, page, acknowledge, resolve, close.

Every function takes an AsyncConnection inside a write transaction (`store.write()`) and the
current time, so the daemon, the CLI and the HTTP API change incidents the same way and a
caller can combine several changes in one transaction. Every change leaves a timeline entry.
Notifications are not sent here: they become outbox rows that the dispatcher delivers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.errors import InvalidTransition, NotFound
from escalatord.escalation import policy as planning
from escalatord.escalation.rules import Decision
from escalatord.incidents.lifecycle import IncidentStatus, after
from escalatord.notify.base import Event, IncidentView
from escalatord.store.tables import incidents, outbox, timeline

OPEN = (IncidentStatus.TRIGGERED.value, IncidentStatus.ACKNOWLEDGED.value)
PAGE_EVENTS = tuple(e.value for e in Event if e.is_page)


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
    )


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


async def open_incident(
    conn: AsyncConnection,
    *,
    key: str,
    check: str,
    labels: dict[str, str],
    status: str,
    summary: str,
    decision: Decision,
    policy_snapshot: dict[str, Any] | None,
    now: datetime,
) -> tuple[int, bool]:
    """Open an incident for `key`, or note a recurrence on the one already open.

    Returns (incident id, created). The policy snapshot is stored in the incident, so later
    config edits never change a running escalation.
    """
    existing = await find_open(conn, key)
    if existing is not None:
        await conn.execute(
            update(incidents).where(incidents.c.id == existing.id).values(summary=summary)
        )
        await add_timeline(conn, existing.id, now, "recurred", f"{check} is {status}: {summary}")
        return existing.id, False
    next_at = None
    if policy_snapshot is not None:
        next_at = planning.plan(policy_snapshot, now)[0].due_at
    result = await conn.execute(
        insert(incidents).values(
            key=key,
            open_key=key,
            title=f"{check} is {status.upper()}",
            status=IncidentStatus.TRIGGERED.value,
            severity=decision.severity,
            check=check,
            labels=dict(labels),
            rule=", ".join(decision.rules),
            owner=decision.owner,
            runbook=decision.runbook,
            steps=list(decision.steps),
            summary=summary,
            policy=policy_snapshot,
            opened_at=now,
            next_step=0,
            next_step_at=next_at,
        )
    )
    incident_id = result.inserted_primary_key[0]
    policy_name = policy_snapshot["name"] if policy_snapshot else "none (nobody is paged)"
    await add_timeline(
        conn,
        incident_id,
        now,
        "opened",
        f"{check} is {status}: {summary} — rule {', '.join(decision.rules)}, "
        f"severity {decision.severity}, policy {policy_name}",
        data={"rules": list(decision.rules), "policy": policy_snapshot},
    )
    return incident_id, True


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
    # all due incidents, instead of four statements per incident (a storm fires 100 at once).
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


async def _finish_paging(conn: AsyncConnection, incident_id: int, now: datetime) -> None:
    """Stop the ladder and mute pages not yet delivered (the dispatcher would drop them too)."""
    await conn.execute(
        update(incidents).where(incidents.c.id == incident_id).values(next_step_at=None)
    )
    await conn.execute(
        update(outbox)
        .where(
            and_(
                outbox.c.incident_id == incident_id,
                outbox.c.status == "pending",
                outbox.c.event.in_(PAGE_EVENTS),
            )
        )
        .values(status="muted", last_error="incident no longer triggered")
    )


async def _change(
    conn: AsyncConnection,
    incident_id: int,
    action: str,
    now: datetime,
    by: str,
    event: Event,
    values: dict[str, Any],
    message: str,
) -> Any:
    row = await get(conn, incident_id, lock=True)  # an ack racing a resolve waits, then sees it
    new_status = after(IncidentStatus(row.status), action)  # raises InvalidTransition
    if not new_status.is_open:
        values = {**values, "open_key": None}
    await conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(status=new_status.value, **values)
    )
    # Who was paged is read before unsent pages are muted: a page in flight may still arrive,
    # and telling one person too many that it is handled beats leaving one paged in the dark.
    notify = await paged_notifiers(conn, incident_id)
    await _finish_paging(conn, incident_id, now)
    await add_timeline(conn, incident_id, now, action_kind(action), message, actor=by)
    level = (
        await conn.execute(
            select(func.max(outbox.c.level)).where(
                and_(outbox.c.incident_id == incident_id, outbox.c.event.in_(PAGE_EVENTS))
            )
        )
    ).scalar()
    row = await get(conn, incident_id)
    await enqueue(conn, row, event, level or 0, notify, now, tag=event.value)
    return row


def action_kind(action: str) -> str:
    return {"ack": "acknowledged", "resolve": "resolved", "close": "closed"}[action]


async def acknowledge(
    conn: AsyncConnection, incident_id: int, *, by: str, now: datetime, how: str = ""
) -> Any:
    """Acknowledge: escalation stops and everyone paged so far is told who took it.

    `how` is added to the timeline message, e.g. "from the ack link in a page to oncall-sms".
    """
    return await _change(
        conn,
        incident_id,
        "ack",
        now,
        by,
        Event.ACKNOWLEDGED,
        {"acknowledged_at": now, "acknowledged_by": by},
        f"acknowledged by {by}" + (f" {how}" if how else ""),
    )


async def resolve(
    conn: AsyncConnection,
    incident_id: int,
    *,
    by: str,
    now: datetime,
    reason: str = "",
) -> Any:
    """Resolve: escalation stops and every notifier that was paged is sent `resolved`."""
    message = f"resolved by {by}" + (f": {reason}" if reason else "")
    return await _change(
        conn,
        incident_id,
        "resolve",
        now,
        by,
        Event.RESOLVED,
        {"resolved_at": now, "resolved_by": by},
        message,
    )


async def close(
    conn: AsyncConnection,
    incident_id: int,
    *,
    note: str,
    by: str,
    now: datetime,
) -> Any:
    """Close with a note (required): the incident is finished with."""
    if not note or not note.strip():
        raise InvalidTransition('closing an incident needs a note (--note "what was done")')
    row = await get(conn, incident_id, lock=True)
    values: dict[str, Any] = {"closed_at": now, "close_note": note.strip()}
    if IncidentStatus(row.status).is_open:
        values |= {"resolved_at": now, "resolved_by": by}
    return await _change(
        conn, incident_id, "close", now, by, Event.CLOSED, values, f"closed by {by}: {note.strip()}"
    )


async def resolve_key(
    conn: AsyncConnection,
    key: str,
    *,
    now: datetime,
    summary: str,
    by: str = "recovery",
) -> int | None:
    """Resolve the open incident for `key`, if any (a check recovered, or a sender said the
    alert resolved). The summary, when given, replaces the incident's. Returns its id."""
    row = await find_open(conn, key)
    if row is None:
        return None
    if summary:
        await conn.execute(
            update(incidents).where(incidents.c.id == row.id).values(summary=summary)
        )
    await resolve(conn, row.id, by=by, now=now, reason=summary)
    return row.id


async def note_change(
    conn: AsyncConnection,
    key: str,
    *,
    now: datetime,
    status: str,
    summary: str,
) -> int | None:
    """A hard change between problem statuses (critical -> warning) on an open incident."""
    row = await find_open(conn, key)
    if row is None:
        return None
    await conn.execute(update(incidents).where(incidents.c.id == row.id).values(summary=summary))
    await add_timeline(conn, row.id, now, "status", f"{row.check} is now {status}: {summary}")
    return row.id


async def list_incidents(conn: AsyncConnection, *, include_closed: bool = False) -> list[Any]:
    """Open incidents (all of them with include_closed), newest first."""
    stmt = select(incidents).order_by(incidents.c.id.desc())
    if not include_closed:
        stmt = stmt.where(incidents.c.status.in_(OPEN))
    return list((await conn.execute(stmt)).all())


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
