"""Opening incidents: one open incident per dedup key. A key that is already open is noted
as a recurrence (or a change of problem status) on that incident, not opened again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core import planning
from escalatord.core.grouping import Grouping
from escalatord.core.lifecycle import IncidentStatus
from escalatord.core.rules import Decision
from escalatord.incidents import groups
from escalatord.incidents.rows import find_open
from escalatord.incidents.timeline import add_timeline
from escalatord.store.tables import incidents


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
    grouping: Grouping | None = None,
    title: str | None = None,
    kind: str | None = None,
    drill: bool = False,
) -> tuple[int, bool]:
    """Open an incident for `key`, or note a recurrence on the one already open.

    Returns (incident id, created). The policy snapshot is stored in the incident, so later
    config edits never change a running escalation. With `grouping` (a rule's `group_by`) a
    new incident joins a group still gathering, or leads a new one (incidents/groups.py).
    `title` defaults to "<check> is <STATUS>"; `kind` is NULL for a check's problem,
    "flapping" for a flapping incident (escalation/flapping.py). `drill` marks a rehearsal
    (incidents/drills.py): `drill = 1` on the row, NULL for a real incident.
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
    group = await groups.place(conn, grouping, labels, check, now) if grouping else None
    if group is not None:
        next_at = groups.first_page_at(next_at, group, now)
    result = await conn.execute(
        insert(incidents).values(
            key=key,
            open_key=key,
            title=title or f"{check} is {status.upper()}",
            kind=kind,
            status=IncidentStatus.TRIGGERED.value,
            severity=decision.severity,
            category=decision.category,
            priority=decision.priority,
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
            drill=1 if drill else None,
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
    if group is not None:
        await groups.enter(conn, incident_id, group, now)
    return incident_id, True


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
