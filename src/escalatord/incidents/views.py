"""How an incident row is shown to people and scripts.

`escalatord incidents --json` and `GET /api/v1/incidents` both print `incident_json(row)`,
and both filter by site with `sites(row)`, so the command line and the API never drift.
"""

from __future__ import annotations

from typing import Any

from escalatord.core.events import rfc3339
from escalatord.incidents import service


def sites(row: Any) -> set[str]:
    """The sites an incident concerns: its check's `labels.site` and those of the checks it
    makes unreachable (a root cause, `affected`)."""
    found = {(row.labels or {}).get("site")} | {a.get("site") for a in row.affected or ()}
    return {s for s in found if s}


def incident_json(row: Any) -> dict[str, Any]:
    """An incident row as JSON: the webhook payload's `incident` (`IncidentView.to_json()`,
    `ack_url` always null) plus its rule, lifecycle times and who changed it, the close note,
    when the next escalation step is due (null when nothing more will be sent; for an
    acknowledged incident, when `ack_timeout` or its snooze re-triggers it) and the end of
    its snooze; `kind` is "problem", or "flapping" for a flapping check's incident."""
    data = service.view(row).to_json()
    data.update(
        {
            "kind": row.kind or "problem",
            "rule": row.rule,
            "acknowledged_at": rfc3339(row.acknowledged_at),
            "acknowledged_by": row.acknowledged_by,
            "resolved_at": rfc3339(row.resolved_at),
            "resolved_by": row.resolved_by,
            "closed_at": rfc3339(row.closed_at),
            "close_note": row.close_note,
            "next_step_at": rfc3339(row.next_step_at),
            "snoozed_until": rfc3339(row.snoozed_until),
        }
    )
    return data
