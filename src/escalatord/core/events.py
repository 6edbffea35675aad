"""What happens to an incident (`Event`) and what one message says about it. Pure.

`Notification.payload()` is the public webhook payload (DESIGN.md, version 1). A page to a
person (`Notification.person`) carries that person and the contact's address (`to`), which the
notifier sends to instead of its configured destination.
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
    # Not about an incident: a person's on-call turn begins (calendar/handoffs.py). It goes to
    # that person's first contact through the outbox with no incident, as a test does.
    HANDOFF = "handoff"

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
    # Who took the incident (a person's name), "" while nobody has; the payload says null then.
    acknowledged_by: str = ""
    # A storm's group (incidents/groups.py `describe`): {"id", "key", "size", "members":
    # [{"id", "check", "title", "status", "summary"}]}; None (no `group` key) when not grouped.
    group: dict[str, Any] | None = None
    # Business impact (a `[[category]]` the matched rule named) and its priority, 1 = most
    # urgent, as they were when the incident opened; None (null) when no rule set a category.
    category: str | None = None
    priority: int | None = None
    # A rehearsal (`escalatord drill`): a real incident paged to real people, "DRILL" in its
    # title, kept apart from real figures (core/report.py). False for every real incident.
    drill: bool = False

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
            "acknowledged_by": self.acknowledged_by or None,
            "category": self.category,
            "priority": self.priority,
            "drill": self.drill,
        } | ({"group": self.group} if self.group is not None else {})

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
            group=data.get("group"),
            category=data.get("category"),
            priority=data.get("priority"),
            drill=bool(data.get("drill")),
        )


@dataclass(frozen=True)
class Person:
    """The person a page is addressed to: `name` is their id in config (`[[person]]`),
    `full_name` what to call them, None when the config gives none."""

    name: str
    full_name: str | None = None

    @property
    def display(self) -> str:
        """What a message calls them: the full name, else the name."""
        return self.full_name or self.name

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "full_name": self.full_name}


@dataclass(frozen=True)
class Notification:
    """One message to one notifier. `key` is the idempotency key (stable across retries).

    A page to a person sets `person` and `to`, the address of that person's contact for this
    notifier (an e-mail address, a phone number, an ntfy topic, a Slack user or channel id,
    any text for webhook and exec); the notifier sends to `to` instead of its configured
    destination. A message to a channel leaves both None.
    """

    event: Event
    level: int
    incident: IncidentView
    key: str
    person: Person | None = None
    to: str | None = None

    def __post_init__(self) -> None:
        # An address without the person it belongs to would reach someone the payload, the
        # texts and the timeline cannot name.
        if self.to is not None and self.person is None:
            raise ValueError("Notification: `to` is the address of a person: set `person` too")

    def payload(self) -> dict[str, Any]:
        """The public webhook payload (DESIGN.md, version 1); `person` and `to` only in a page
        to a person, so a channel's payload is what it always was."""
        data: dict[str, Any] = {
            "version": 1,
            "event": str(self.event),
            "level": self.level,
            "incident": self.incident.to_json(),
        }
        if self.person is not None:
            data["person"] = self.person.to_json()
            data["to"] = self.to
        return data
