"""Drills: a real incident marked as a rehearsal (`escalatord drill`).

A drill is opened like any incident (its rule's decision, its policy's snapshot, `next_step_at`
of level 0), so the running daemon's ladder pages real people and the ack link acknowledges it
as it would a real one. What differs: `drill = 1` on the row (`incident.drill` in payloads),
"DRILL: " before its title, a key of its own so it never dedups onto a real open incident, and
an ack that records who took it, at which level and after how long (transitions.py). The
report keeps drills apart from real MTTA (core/report.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core.rules import Decision
from escalatord.incidents.opening import open_incident

TITLE_PREFIX = "DRILL: "
STATUS = "critical"  # a drill rehearses a failure: the worst problem status


def drill_key(target: str, now: datetime) -> str:
    """The drill's own dedup key: never a check's or an alert's, unique per start instant."""
    return f"drill:{target}:{now.isoformat()}"


async def open_drill(
    conn: AsyncConnection,
    *,
    target: str,
    check: str,
    labels: dict[str, str],
    decision: Decision,
    policy_snapshot: dict[str, Any],
    now: datetime,
    by: str,
) -> int:
    """Open the drill incident of `target` (e.g. "rule=R") as if `check` had failed; returns
    its id. `by` is who started it (the timeline's summary names them)."""
    incident_id, _ = await open_incident(
        conn,
        key=drill_key(target, now),
        check=check,
        labels=labels,
        status=STATUS,
        summary=f"drill of {target} started by {by}; acknowledge it as a real incident",
        decision=decision,
        policy_snapshot=policy_snapshot,
        now=now,
        title=f"{TITLE_PREFIX}{check} is {STATUS.upper()}",
        drill=True,
    )
    return incident_id
