"""The contract every notifier type fulfils.

A notifier builds and sends ONE message for one `Notification` and raises `NotifyError`
(with `retryable`) when it cannot. Retries, backoff, dedup and recording live in the
dispatcher, once, for every type.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field

from escalatord.config.types import Duration, Strict


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


class NotifierConfig(Strict):
    """Keys every notifier has. Type modules subclass this with their own keys."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    type: str
    max_age: Duration = timedelta(hours=1)  # give up retrying a message this old
    timeout: Duration = timedelta(seconds=10)


class Notifier:
    """Base class of notifier types. Subclasses set `Config` and implement `send()`."""

    Config: ClassVar[type[NotifierConfig]] = NotifierConfig

    def __init__(self, config: NotifierConfig):
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name

    async def send(self, notification: Notification) -> None:  # pragma: no cover
        """Deliver one message or raise NotifyError."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release clients; called on shutdown and when a reload drops the notifier."""
