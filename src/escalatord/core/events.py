"""What happens to an incident (`Event`) and what one message says about it. Pure.

`Notification.payload()` is the public webhook payload (DESIGN.md, version 1).
`escalatord.notify.base` re-exports these for plugin authors, whose notifiers send them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Event(enum.StrEnum):
    TRIGGERED = "triggered"
    ESCALATED = "escalated"
    REMINDER = "reminder"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLOSED = "closed"
    TEST = "test"

    @property
    def is_page(self) -> bool:
        """Pages ask someone to act; the rest only inform."""
        return self in (Event.TRIGGERED, Event.ESCALATED, Event.REMINDER)


def rfc3339(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class IncidentView:
    """What a notification says about an incident, as it was when the event happened."""

    id: str
    key: str
    title: str
    status: str
    severity: str
    check: str
    labels: dict[str, str] = field(default_factory=dict)
    owner: str = ""
    runbook: str = ""
    steps: tuple[str, ...] = ()
    summary: str = ""
    opened_at: datetime | None = None
    ack_url: str | None = None
    # Root cause: the checks this incident's check makes unreachable, each {"check", "site"}.
    affected: tuple[dict[str, str], ...] = ()
    # Not part of the public webhook payload (to_json leaves it out); kept in the outbox row so
    # "acknowledged" messages can say who took the incident.
    acknowledged_by: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "title": self.title,
            "status": self.status,
            "severity": self.severity,
            "check": self.check,
            "labels": dict(self.labels),
            "owner": self.owner,
            "runbook": self.runbook,
            "steps": list(self.steps),
            "summary": self.summary,
            "opened_at": rfc3339(self.opened_at),
            "ack_url": self.ack_url,
            "affected": [dict(a) for a in self.affected],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IncidentView:
        opened = data.get("opened_at")
        return cls(
            id=str(data["id"]),
            key=data["key"],
            title=data["title"],
            status=data["status"],
            severity=data["severity"],
            check=data["check"],
            labels=dict(data.get("labels") or {}),
            owner=data.get("owner") or "",
            runbook=data.get("runbook") or "",
            steps=tuple(data.get("steps") or ()),
            summary=data.get("summary") or "",
            opened_at=datetime.fromisoformat(opened.replace("Z", "+00:00")) if opened else None,
            ack_url=data.get("ack_url"),
            affected=tuple(dict(a) for a in data.get("affected") or ()),
            acknowledged_by=data.get("acknowledged_by") or "",
        )


@dataclass(frozen=True)
class Notification:
    """One message to one notifier. `key` is the idempotency key (stable across retries)."""

    event: Event
    level: int
    incident: IncidentView
    key: str

    def payload(self) -> dict[str, Any]:
        """The public webhook payload (DESIGN.md, version 1)."""
        return {
            "version": 1,
            "event": str(self.event),
            "level": self.level,
            "incident": self.incident.to_json(),
        }
