"""Incidents raised by ingested alerts (Alertmanager, PagerDuty-shaped events).

They share the incident lifecycle of checks (service.py); what differs is that senders repeat
firing alerts, carry their own title and runbook, and may acknowledge from their side.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core.lifecycle import IncidentStatus
from escalatord.core.rules import Decision
from escalatord.incidents.opening import open_incident
from escalatord.incidents.rows import find_open
from escalatord.incidents.timeline import add_timeline
from escalatord.incidents.transitions import acknowledge
from escalatord.store.tables import incidents


async def raise_alert(
    conn: AsyncConnection,
    *,
    key: str,
    check: str,
    title: str,
    labels: dict[str, str],
    status: str,
    summary: str,
    runbook: str,
    decision: Decision,
    policy_snapshot: dict[str, Any] | None,
    now: datetime,
    source: str,
) -> tuple[int, bool]:
    """An ingested alert fires: open an incident for its dedup `key`, or update the open one.

    Returns (incident id, created). Senders repeat firing alerts (Alertmanager re-sends them
    every repeat_interval): a repeat that says nothing new changes nothing and leaves no
    timeline entry. The alert's own `runbook`, when it has one, wins over the rule's.
    """
    existing = await find_open(conn, key)
    if existing is not None:
        if existing.summary != summary or dict(existing.labels or {}) != labels:
            await conn.execute(
                update(incidents)
                .where(incidents.c.id == existing.id)
                .values(summary=summary, labels=dict(labels))
            )
            await add_timeline(
                conn, existing.id, now, "updated", f"{source}: {check} is {status}: {summary}"
            )
        return existing.id, False
    incident_id, created = await open_incident(
        conn,
        key=key,
        check=check,
        labels=labels,
        status=status,
        summary=summary,
        decision=decision,
        policy_snapshot=policy_snapshot,
        now=now,
    )
    values: dict[str, Any] = {"title": title}
    if runbook:
        values["runbook"] = runbook
    await conn.execute(update(incidents).where(incidents.c.id == incident_id).values(**values))
    return incident_id, created


async def acknowledge_alert(
    conn: AsyncConnection, key: str, *, by: str, now: datetime
) -> int | None:
    """An ingested acknowledgement: acknowledge the open incident for `key` if it is still
    triggered (acknowledging twice is not an error for a sender). Returns its id, if open."""
    row = await find_open(conn, key)
    if row is None:
        return None
    if row.status == IncidentStatus.TRIGGERED.value:
        await acknowledge(conn, row.id, by=by, now=now)
    return row.id
