"""The `pagerduty` notifier: PagerDuty Events API v2 (trigger, acknowledge, resolve).

Config keys (besides the common ones, see `NotifierConfig`):

    routing_key  the 32-character Integration Key of an "Events API V2" integration (a secret)
    url          default https://events.pagerduty.com/v2/enqueue
                 (EU accounts: https://events.eu.pagerduty.com/v2/enqueue)
    source       what PagerDuty shows as the affected system; default: the check's name

One escalatord incident is one PagerDuty alert: every event for it carries the same
`dedup_key` ("escalatord-<incident id>-<dedup key>"), so repeated pages (escalated, reminder)
update the alert instead of opening new ones. triggered, escalated and reminder send
`trigger`; acknowledged sends `acknowledge`; resolved and closed send `resolve`. A test sends a
`trigger` of severity info and resolves it at once.

PagerDuty answers 202 {"status": "success", "dedup_key": ...}; 400 (invalid event) is
permanent, 429 and 5xx are retried.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import SecretStr, field_validator

from escalatord.core.events import Event, Notification
from escalatord.notify.base import Notifier, NotifierConfig
from escalatord.notify.http import HttpSender, check_url
from escalatord.notify.templates import render

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
SUMMARY_LIMIT = 1024
DEDUP_LIMIT = 255
_ACTIONS = {
    Event.TRIGGERED: "trigger",
    Event.ESCALATED: "trigger",
    Event.REMINDER: "trigger",
    Event.ACKNOWLEDGED: "acknowledge",
    Event.RESOLVED: "resolve",
    Event.CLOSED: "resolve",
    Event.TEST: "trigger",
}
_KEY = re.compile(r"^[A-Za-z0-9]{32}$")


class PagerDutyConfig(NotifierConfig):
    """Keys of a `type = "pagerduty"` notifier."""

    routing_key: SecretStr
    url: str = DEFAULT_URL
    source: str | None = None

    @field_validator("routing_key")
    @classmethod
    def _routing_key(cls, value: SecretStr) -> SecretStr:
        if not _KEY.match(value.get_secret_value()):
            raise ValueError(
                "routing_key must be the 32-character Integration Key of an Events API V2 "
                "integration (PagerDuty: Service > Integrations)"
            )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            return check_url(value, f'e.g. url = "{DEFAULT_URL}"')
        except ValueError as exc:
            raise ValueError(f"url {exc}") from None


def dedup_key(notification: Notification) -> str:
    """The same for every event of one incident, different for every incident."""
    incident = notification.incident
    return f"escalatord-{incident.id}-{incident.key}"[:DEDUP_LIMIT]


def event_body(config: PagerDutyConfig, notification: Notification, action: str) -> dict[str, Any]:
    """One Events API v2 event."""
    body: dict[str, Any] = {
        "routing_key": config.routing_key.get_secret_value(),
        "event_action": action,
        "dedup_key": dedup_key(notification),
    }
    if action != "trigger":
        return body  # acknowledge and resolve need only the key
    incident = notification.incident
    message = render(notification, config.template)
    severity = "info" if notification.event == Event.TEST else incident.severity
    payload: dict[str, Any] = {
        "summary": message.title[:SUMMARY_LIMIT],
        "source": config.source or incident.check or "escalatord",
        "severity": severity if severity in ("critical", "error", "warning", "info") else "error",
        "component": incident.check,
        "custom_details": {
            "summary": incident.summary,
            "owner": incident.owner,
            "steps": list(incident.steps),
            "labels": dict(incident.labels),
            "incident": incident.id,
            "event": str(notification.event),
            "level": notification.level,
        },
    }
    if incident.opened_at is not None:
        payload["timestamp"] = incident.opened_at.isoformat()
    for field, label in (("group", "site"), ("class", "category")):
        if incident.labels.get(label):
            payload[field] = incident.labels[label]
    body["payload"] = payload
    body["client"] = "escalatord"
    links = []
    if message.ack_url:
        links.append({"href": message.ack_url, "text": "Acknowledge in escalatord"})
    if incident.runbook.startswith(("https://", "http://")):
        links.append({"href": incident.runbook, "text": "Runbook"})
    if links:
        body["links"] = links
    return body


class PagerDutyNotifier(Notifier):
    """Sends Events API v2 events; one alert per incident."""

    Config = PagerDutyConfig
    config: PagerDutyConfig

    def __init__(self, config: PagerDutyConfig):
        super().__init__(config)
        self._http = HttpSender(
            "pagerduty",
            config.name,
            config.timeout.total_seconds(),
            headers={"Content-Type": "application/json"},
            secrets=config.secret_values(),
        )

    async def close(self) -> None:
        await self._http.close()

    async def send(self, notification: Notification) -> None:
        """Send the event(s) for `notification`."""
        await self._event(notification, _ACTIONS[notification.event])
        if notification.event == Event.TEST:
            await self._event(notification, "resolve")

    async def _event(self, notification: Notification, action: str) -> None:
        body = event_body(self.config, notification, action)
        await self._http.request(
            "POST", self.config.url, content=json.dumps(body, ensure_ascii=False).encode()
        )
