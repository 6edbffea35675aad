"""What a simulation found (commands/simulation.py), read back from its throwaway database.

The run notes how check states moved (`Change`); the incidents, their timelines and the outbox
rows are what the Engine wrote, as the daemon would have. A page goes out when its row is due
while its incident is triggered; one due later (a person's next contact after the ack, a level
of an acknowledged incident) is muted, as the dispatcher mutes it (commands/simulation.py
`_deliver` plays the dispatcher, every send succeeding).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from escalatord.core.state import CheckState
from escalatord.store.db import Store
from escalatord.store.tables import incidents, outbox, timeline

if TYPE_CHECKING:
    from escalatord.commands.simulation import Scenario


@dataclass(frozen=True)
class Change:
    """A check's state moved at `at`: `result` is the answer that moved it (None when another
    check's change moved it: unreachable behind a parent); `hard` whether the state is now hard;
    `attempts` of `threshold` results counted toward a change still pending."""

    at: datetime
    check: str
    result: str | None
    status: str
    hard: bool
    attempts: int
    threshold: int
    pending: str | None
    summary: str
    note: str = ""  # why a hard failure opened no incident (quiet, no rule), if it did not
    until: datetime | None = None  # when the quiet time of `note` ends

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "check": self.check,
            "result": self.result,
            "status": self.status,
            "hard": self.hard,
            "attempts": self.attempts,
            "threshold": self.threshold,
            "pending": self.pending,
            "summary": self.summary,
            "note": self.note or None,
            "until": _iso(self.until),
        }


def change(
    at: datetime, check: str, old: CheckState | None, new: CheckState, threshold: int, ran: bool
) -> Change:
    """The Change from `old` to `new`; `ran`: the check's own result moved it."""
    return Change(
        at=at,
        check=check,
        result=new.last_status.value if ran and new.last_status else None,
        status=new.status.value,
        hard=new.hard,
        attempts=new.attempts,
        threshold=threshold,
        pending=new.pending.value if new.pending else None,
        summary=new.last_summary,
    )


@dataclass(frozen=True)
class Page:
    """One outbox row: a page (`sent` False: muted, the incident no longer triggered then) or
    a notice (acknowledged, resolved: always sent)."""

    at: datetime
    incident: int
    event: str
    level: int
    notifier: str
    person: str | None
    address: str | None
    sent: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "incident": self.incident,
            "event": self.event,
            "level": self.level,
            "notifier": self.notifier,
            "person": self.person,
            "to": self.address,
            "sent": self.sent,
        }


@dataclass(frozen=True)
class Entry:
    """A timeline entry of an incident: opened, paged, unreached, acknowledged, …"""

    at: datetime
    incident: int
    kind: str
    actor: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "incident": self.incident,
            "kind": self.kind,
            "actor": self.actor,
            "message": self.message,
        }


@dataclass
class Outcome:
    """The simulated timeline: `ended` is "settled" (nothing more would happen) or "horizon"."""

    scenario: Scenario
    failing: dict[str, str]  # check -> the failing parents it is cut off by ("" if named)
    changes: list[Change]
    incidents: list[dict[str, Any]]
    entries: list[Entry]
    pages: list[Page]
    ended: str
    end_at: datetime

    def to_json(self) -> dict[str, Any]:
        s = self.scenario
        return {
            "at": s.at.isoformat(),
            "checks": list(s.checks),
            "failing": [{"check": c, "behind": b or None} for c, b in self.failing.items()],
            "ack_after_s": s.ack_after.total_seconds() if s.ack_after is not None else None,
            "by": s.by if s.ack_after is not None else None,
            "recover_after_s": (
                s.recover_after.total_seconds() if s.recover_after is not None else None
            ),
            "changes": [c.to_json() for c in self.changes],
            "incidents": self.incidents,
            "timeline": [e.to_json() for e in self.entries],
            "pages": [p.to_json() for p in self.pages],
            "ended": self.ended,
            "end_at": self.end_at.isoformat(),
        }


async def read(
    store: Store,
    scenario: Scenario,
    failing: dict[str, str],
    changes: list[Change],
    ended: str,
    end_at: datetime,
) -> Outcome:
    """The Outcome from the run's database and what the run noted."""
    async with store.read() as conn:
        rows = (await conn.execute(select(incidents).order_by(incidents.c.id))).all()
        entries = [
            Entry(r.at, r.incident_id, r.kind, r.actor, r.message)
            for r in await conn.execute(select(timeline).order_by(timeline.c.at, timeline.c.id))
        ]
        rows_out = (await conn.execute(select(outbox).order_by(outbox.c.id))).all()
    pages = sorted((_page(r) for r in rows_out), key=lambda p: (p.at, p.incident, p.level))
    return Outcome(
        scenario=scenario,
        failing=failing,
        changes=changes,
        incidents=[_incident(r) for r in rows],
        entries=entries,
        pages=pages,
        ended=ended,
        end_at=end_at,
    )


def _incident(row: Any) -> dict[str, Any]:
    policy = row.policy or {}
    return {
        "id": row.id,
        "title": row.title,
        "check": row.check,
        "status": row.status,
        "rule": row.rule,
        "severity": row.severity,
        "category": row.category,
        "priority": row.priority,
        "owner": row.owner,
        "runbook": row.runbook,
        "steps": list(row.steps or ()),
        "policy": policy.get("name"),
        "opened_at": row.opened_at.isoformat(),
        "acknowledged_at": _iso(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
        "resolved_at": _iso(row.resolved_at),
        "affected": [a.get("check") for a in (row.affected or ()) if isinstance(a, dict)],
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _page(row: Any) -> Page:
    return Page(
        at=row.delivered_at or row.next_attempt_at,
        incident=row.incident_id,
        event=row.event,
        level=row.level,
        notifier=row.notifier,
        person=row.person,
        address=row.address,
        sent=row.status == "delivered",
    )
