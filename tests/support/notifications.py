"""A sample notification, as the dispatcher hands it to a notifier."""

from __future__ import annotations

from datetime import UTC, datetime

from escalatord.core.events import Event, IncidentView, Notification

OPENED = datetime(2024, 5, 17, 8, 30, 5, tzinfo=UTC)
ACK_URL = "https://escalatord.example.org/ack/42.7.1716000000.AAAAAAAAAAAAAAAAAAAAAA"


def sample(
    event: Event = Event.TRIGGERED,
    *,
    level: int = 0,
    key: str = "42:0:triggered:n",
    ack_url: str | None = ACK_URL,
    **changes: object,
) -> Notification:
    """Incident 42, hl7-adt-feed, critical, with owner, runbook, steps and an ack link."""
    fields: dict = {
        "id": "42",
        "key": "hl7-adt-feed",
        "title": "hl7-adt-feed is CRITICAL",
        "status": "triggered" if event.is_page else str(event),
        "severity": "critical",
        "check": "hl7-adt-feed",
        "labels": {"category": "patient-care", "site": "hq"},
        "owner": "clinical-apps-lead",
        "runbook": "https://wiki.example.org/runbooks/hl7",
        "steps": ("Check the interface engine queue", "Call the vendor support line"),
        "summary": "no heartbeat for 15m",
        "opened_at": OPENED,
        "ack_url": ack_url,
    }
    fields.update(changes)
    return Notification(event=event, level=level, incident=IncidentView(**fields), key=key)
