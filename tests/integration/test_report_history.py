"""incidents/history.py on a real SQLite file and a real PostgreSQL server: the rows
`escalatord report` measures, read as core/report.py needs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from escalatord.core.report import IncidentRow, PageRow, StepRow
from escalatord.incidents.history import drill_steps, history
from escalatord.store.db import Store
from escalatord.store.tables import incidents, outbox

NOW = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def _incident(id: int, check: str, opened_at: datetime, **more) -> dict:
    row = {
        "id": id,
        "key": f"{check}:{id}",
        "title": check,
        "status": "triggered",
        "severity": "critical",
        "check": check,
        "labels": {},
        "steps": [],
        "opened_at": opened_at,
        # executemany needs the same keys in every row
        "category": None,
        "priority": None,
        "drill": None,
        "acknowledged_at": None,
        "acknowledged_by": None,
        "resolved_at": None,
    }
    return row | more


def _page(incident_id: int, key: str, level: int, status: str, **more) -> dict:
    row = {
        "key": key,
        "incident_id": incident_id,
        "notifier": "sms",
        "event": "triggered" if level == 0 else "escalated",
        "level": level,
        "payload": {},
        "status": status,
        "created_at": NOW,
        "next_attempt_at": NOW,
        "person": None,  # executemany needs the same keys in every row
        "delivered_at": None,
    }
    return row | more


async def test_history_returns_incidents_since_with_their_delivered_person_pages(
    store: Store,
) -> None:
    """Incidents opened before `since` are left out; site, category, drill and times come
    back as stored; escalated means a level ≥ 1 page not muted; only delivered person pages
    are listed, oldest first (not channels, not failed ones, not notices)."""
    async with store.write() as conn:
        await conn.execute(
            insert(incidents),
            [
                _incident(1, "old", NOW - 40 * 24 * 60 * MIN),
                _incident(
                    2,
                    "db",
                    NOW - 60 * MIN,
                    labels={"site": "lyon"},
                    category="patient-care",
                    priority=1,
                    status="resolved",
                    acknowledged_at=NOW - 58 * MIN,
                    acknowledged_by="alice",
                    resolved_at=NOW - 30 * MIN,
                ),
                _incident(3, "web", NOW - 50 * MIN, drill=1),
                _incident(4, "disk", NOW - 40 * MIN),
            ],
        )
        await conn.execute(
            insert(outbox),
            [
                _page(
                    1, "1:0:triggered:sms@alice#0", 1, "delivered", person="alice", delivered_at=NOW
                ),
                _page(
                    2,
                    "2:0:triggered:sms@alice#0",
                    0,
                    "delivered",
                    person="alice",
                    delivered_at=NOW - 59 * MIN,
                ),
                _page(2, "2:1:escalated:sms@bob#0", 1, "failed", person="bob"),
                _page(2, "2:1:escalated:hook", 1, "delivered", delivered_at=NOW),
                _page(
                    2,
                    "2:ack:acknowledged:sms@alice#0",
                    0,
                    "delivered",
                    person="alice",
                    event="acknowledged",
                    delivered_at=NOW,
                ),
                _page(
                    3,
                    "3:1:escalated:sms@bob#0",
                    1,
                    "delivered",
                    person="bob",
                    delivered_at=NOW - 45 * MIN,
                ),
                _page(4, "4:1:escalated:hook", 1, "muted"),
            ],
        )
    async with store.read() as conn:
        found, pages = await history(conn, NOW - 30 * 24 * 60 * MIN)
    assert found == [
        IncidentRow(
            id=2,
            check="db",
            opened_at=NOW - 60 * MIN,
            acknowledged_at=NOW - 58 * MIN,
            acknowledged_by="alice",
            resolved_at=NOW - 30 * MIN,
            site="lyon",
            category="patient-care",
            drill=False,
            escalated=True,
        ),
        IncidentRow(id=3, check="web", opened_at=NOW - 50 * MIN, drill=True, escalated=True),
        IncidentRow(id=4, check="disk", opened_at=NOW - 40 * MIN),
    ]
    assert pages == [
        PageRow(2, "alice", 0, NOW - 59 * MIN),
        PageRow(3, "bob", 1, NOW - 45 * MIN),
    ]


async def test_drill_steps_are_the_drills_pages_of_any_status_once_per_instant(
    store: Store,
) -> None:
    """Each distinct (drill, level, enqueue time) of a page to a person or a channel, muted
    or failed too, oldest first; real incidents, notices and older drills are left out."""
    async with store.write() as conn:
        await conn.execute(
            insert(incidents),
            [
                _incident(1, "old", NOW - 40 * 24 * 60 * MIN, drill=1),
                _incident(2, "db", NOW - 60 * MIN, drill=1),
                _incident(3, "web", NOW - 50 * MIN),
            ],
        )
        at = {"created_at": NOW - 59 * MIN, "person": "alice"}
        later = {"created_at": NOW - 50 * MIN, "person": "bob"}
        await conn.execute(
            insert(outbox),
            [
                _page(1, "1:0:triggered:sms@alice#0", 0, "delivered", **at),
                _page(2, "2:0:triggered:sms@alice#0", 0, "delivered", **at),
                _page(2, "2:0:triggered:hook", 0, "failed", created_at=NOW - 59 * MIN),
                _page(2, "2:1:escalated:sms@bob#0", 1, "muted", **later),
                _page(2, "2:ack:acknowledged:sms@alice#0", 1, "delivered", event="acknowledged"),
                _page(3, "3:0:triggered:sms@alice#0", 0, "delivered", **at),
            ],
        )
    async with store.read() as conn:
        steps = await drill_steps(conn, NOW - 30 * 24 * 60 * MIN)
    assert steps == [StepRow(2, 0, NOW - 59 * MIN), StepRow(2, 1, NOW - 50 * MIN)]
