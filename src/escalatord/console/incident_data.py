"""What the incident pages show, read through the incidents' own read paths on one of the
store's reader connections: the row (incidents/rows.py `get`, shown as incidents/views.py
`incident_json`), its timeline (`get_timeline`), its group (incidents/groups.py `describe`),
whether it is in maintenance (the API listings' quiet times) and every message the outbox
holds for it (the pages and notices, with how each went).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from escalatord.api.listings import INCIDENT_STATUSES, OPEN_STATUSES, select_incidents
from escalatord.console.feed import order_incidents
from escalatord.console.services import ConsoleServices
from escalatord.incidents import groups, service
from escalatord.incidents.views import incident_json
from escalatord.store.tables import outbox

LISTED = 200  # incidents on /incidents at most, newest first
# /incidents?show=…: which incidents are listed.
SHOWN = {
    "open": OPEN_STATUSES,
    "closed": tuple(s for s in INCIDENT_STATUSES if s not in OPEN_STATUSES),
    "all": INCIDENT_STATUSES,
}


@dataclass(frozen=True)
class Message:
    """An outbox row of the incident: a page (triggered) or a notice (acknowledged, ...)."""

    incident_id: int
    event: str
    level: int
    notifier: str
    person: str | None
    address: str | None
    status: str  # pending, delivered, failed or muted
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class IncidentPage:
    """One incident as its page shows it, read at `at`."""

    at: datetime
    incident: Mapping[str, Any]  # incidents/views.py incident_json
    runbook_url: str | None  # the runbook when it is an http(s) address (shown as a link)
    quiet: str | None  # why it is in maintenance (a window or a silence) and until when
    group: Mapping[str, Any] | None  # incidents/groups.py describe: leader first
    timeline: Sequence[Any]  # timeline rows, oldest first
    messages: Sequence[Message]  # outbox rows, oldest first


def runbook_link(runbook: str) -> str | None:
    """The runbook as a link's target only when it is a web address: anything else (a wiki
    page name, a path, `javascript:`) is shown as text."""
    text = runbook.strip()
    return text if text.lower().startswith(("http://", "https://")) else None


async def read_incident(services: ConsoleServices, incident_id: int, now: datetime) -> IncidentPage:
    """Incident `incident_id` with its timeline, group and messages; NotFound when there is
    no such incident."""
    listings = services.listings
    async with listings.store.read() as conn:
        row = await service.get(conn, incident_id)
        timeline = await service.get_timeline(conn, incident_id)
        group = await groups.describe(conn, row)
        # A storm's members are paged through their group: its pages are the incident's too.
        holders = await groups.page_holders(conn, row)
        rows = await conn.execute(
            select(outbox)
            .where(outbox.c.incident_id.in_(holders))
            .order_by(outbox.c.created_at, outbox.c.id)
        )
        messages = [
            Message(
                r.incident_id,
                r.event,
                r.level,
                r.notifier,
                r.person,
                r.address,
                r.status,
                r.attempts,
                r.created_at,
                r.delivered_at,
                r.last_error,
            )
            for r in rows
        ]
    quiet = None
    if row.status in OPEN_STATUSES and listings.quiet is not None:
        found = (await listings.quiet(now)).of(row.check, row.labels or {}, now)
        quiet = found.describe() if found is not None else None
    return IncidentPage(
        at=now,
        incident=incident_json(row),
        runbook_url=runbook_link(row.runbook or ""),
        quiet=quiet,
        group=group,
        timeline=timeline,
        messages=messages,
    )


async def list_incidents(services: ConsoleServices, show: str) -> list[Mapping[str, Any]]:
    """The incidents `show` names (a key of SHOWN): open ones most urgent first, as on the
    board; otherwise newest first. At most LISTED."""
    store = services.listings.store
    rows = await select_incidents(store, set(SHOWN[show]), None, None, LISTED)
    found = [incident_json(row) for row in rows]
    return order_incidents(found, services.categories()) if show == "open" else found
