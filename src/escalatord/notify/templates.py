"""Message text for the built-in notifiers: good defaults, overridable per notifier.

`render(notification, template)` returns a `Message`:

    title   one line: "[CRITICAL] hl7-adt-feed is CRITICAL", "[RESOLVED] hl7-adt-feed is ..."
    body    plain text: what happened, check, severity, owner, runbook, action steps, ack link
    fields  the template variables below, all strings ("" when unknown)

and `message.short(limit)` is an SMS-sized text that always keeps the ack link whole.

A notifier's `template = { title = "...", body = "..." }` replaces the default title and body.
Placeholders are `$name` or `${name}` (Python's string.Template); `$$` is a literal `$`.
Unknown placeholders are config errors. Variables:

    headline        the default title          title           the incident's title
    event           triggered, escalated, ...  intro           one sentence on what the event means
    severity        critical, error, ...       status          triggered, acknowledged, ...
    check           the check's name           summary         the check's last summary
    owner           who owns the incident      runbook         the runbook link
    steps           numbered action steps, one per line
    ack_url         the acknowledge link ("" where there is none: test messages, resolved, ...)
    incident_id     the incident number        level           policy level, from 0 (payload's)
    opened_at       "2024-05-17 08:30 UTC"     labels          "category=patient-care, site=hq"
    acknowledged_by who acknowledged it        key             the incident's dedup key
    affected        checks this root cause makes unreachable, "office-pc-1 (boston), ..."
    person          whom a page to a person is for: "Alice Moreau" ("" for a channel)
    group           a storm's incidents paged together, one per line: "#12 web-1: web-1 is
                    CRITICAL (triggered)" ("" when not grouped; payload `incident.group`)
    group_size      how many incidents the group has ("" when not grouped)
    category        business impact: "patient-care" ("" when the rule names no category)
    priority        the category's priority, "1" (most urgent) to "5" ("" without category)

In a message to a person, `intro` greets them by name ("Alice Moreau, you are paged for this
incident."); a message to a channel reads as it always did.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import field_validator

from escalatord.fields import Strict

if TYPE_CHECKING:
    from escalatord.core.events import Notification

VARIABLES = (
    "headline",
    "title",
    "event",
    "intro",
    "severity",
    "status",
    "check",
    "summary",
    "owner",
    "runbook",
    "steps",
    "ack_url",
    "incident_id",
    "level",
    "opened_at",
    "labels",
    "acknowledged_by",
    "key",
    "affected",
    "person",
    "group",
    "group_size",
    "category",
    "priority",
)

_INTRO = {
    "triggered": "",
    "escalated": "Nobody has acknowledged this incident yet: it is escalated to you.",
    "reminder": "This incident is still not acknowledged.",
    "acknowledged": "Acknowledged{by}: escalation has stopped.",
    "resolved": "The incident is resolved: no action is needed.",
    "closed": "The incident is closed.",
    # Nothing is wrong; a contact test (people/confirmations.py) asks for its link to be
    # followed, so this does not say that no action is needed.
    "test": "This is a test message: nothing is wrong.",
    # Not about an incident: the title says until when (calendar/handoffs.py).
    "handoff": "Your on-call turn begins now.",
}
_PAGES = ("triggered", "escalated", "reminder")


class TemplateConfig(Strict):
    """`template = { title = "...", body = "..." }` on any notifier."""

    title: str | None = None
    body: str | None = None

    @field_validator("title", "body")
    @classmethod
    def _placeholders(cls, value: str | None) -> str | None:
        if value is None:
            return value
        template = string.Template(value)
        if not template.is_valid():
            raise ValueError("invalid placeholder: write $name or ${name}, and $$ for a literal $")
        unknown = [name for name in template.get_identifiers() if name not in VARIABLES]
        if unknown:
            raise ValueError(
                f"unknown placeholder ${unknown[0]}; known: "
                + ", ".join(f"${name}" for name in VARIABLES)
            )
        return value


@dataclass(frozen=True)
class Message:
    """The texts of one notification, ready for a channel to lay out."""

    event: str
    title: str
    body: str
    fields: dict[str, str]
    steps: tuple[str, ...] = ()
    custom_body: bool = False  # the notifier's template replaced the default body
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def is_page(self) -> bool:
        return self.event in _PAGES

    @property
    def ack_url(self) -> str:
        return self.fields["ack_url"]

    def short(self, limit: int = 320) -> str:
        """SMS-sized text: the body when the template set one, else title, summary and link.

        The ack link is never cut: the rest is shortened to fit around it.
        """
        if self.custom_body:
            return _cut(" ".join(self.body.split()), limit)
        link = f" Ack: {self.ack_url}" if self.ack_url and self.is_page else ""
        summary = self.fields["summary"]
        text = f"{self.title}: {summary}" if summary else self.title
        text = " ".join(text.split())
        return _cut(text, max(1, limit - len(link))) + link


def render(notification: Notification, template: TemplateConfig | None = None) -> Message:
    """The title, body and variables for `notification`, with `template` applied."""
    values = variables(notification)
    # One line whatever the incident's title holds (Alertmanager summaries are multi-line):
    # a mail Subject, an ntfy X-Title or an SMS cannot carry a line break.
    title = " ".join(default_title(values).split())
    values["headline"] = title
    body = default_body(values, notification.incident.steps)
    custom = False
    if template is not None and template.title:
        title = " ".join(string.Template(template.title).substitute(values).split())
    if template is not None and template.body:
        body = string.Template(template.body).substitute(values)
        custom = True
    return Message(
        event=values["event"],
        title=title,
        body=body,
        fields=values,
        steps=tuple(notification.incident.steps),
        custom_body=custom,
        labels=dict(notification.incident.labels),
    )


def variables(notification: Notification) -> dict[str, str]:
    """Every template variable for `notification`, as strings."""
    incident = notification.incident
    event = str(notification.event)
    by = incident.acknowledged_by
    intro = _INTRO.get(event, "").format(by=f" by {by}" if by else "")
    person = notification.person.display if notification.person is not None else ""
    if person:
        intro = _greet(person, intro)
    opened = incident.opened_at.strftime("%Y-%m-%d %H:%M UTC") if incident.opened_at else ""
    values = {
        "headline": "",
        "title": incident.title,
        "event": event,
        "intro": intro,
        "severity": incident.severity,
        "status": incident.status,
        "check": incident.check,
        "summary": incident.summary,
        "owner": incident.owner,
        "runbook": incident.runbook,
        "steps": "\n".join(f"{i}. {step}" for i, step in enumerate(incident.steps, 1)),
        # Only pages ask for an acknowledgement; the link in an "acknowledged" would be dead.
        "ack_url": (incident.ack_url or "") if event in _PAGES else "",
        "incident_id": incident.id,
        "level": str(notification.level),  # from 0, as in the payload, timeline and config
        "opened_at": opened,
        "labels": ", ".join(f"{k}={v}" for k, v in sorted(incident.labels.items())),
        "acknowledged_by": by,
        "key": incident.key,
        "affected": ", ".join(
            a["check"] + (f" ({a['site']})" if a.get("site") else "") for a in incident.affected
        ),
        "person": person,
        # A storm's group (incidents/groups.py): the message is about every member of it.
        "group": "\n".join(
            f"#{m['id']} {m['check']}: {m['title']} ({m['status']})"
            for m in (incident.group or {}).get("members", ())
        ),
        "group_size": str(incident.group["size"]) if incident.group else "",
        "category": incident.category or "",
        "priority": str(incident.priority) if incident.priority is not None else "",
    }
    return values


def _greet(person: str, intro: str) -> str:
    """`intro` addressed to `person`: "Alice Moreau, this incident is still not acknowledged."."""
    if not intro:  # a first page says nothing more than its title: say whom it is for
        return f"{person}, you are paged for this incident."
    return f"{person}, {intro[0].lower()}{intro[1:]}"


def default_title(values: dict[str, str]) -> str:
    event, title = values["event"], values["title"]
    if values.get("group_size", "") not in ("", "1"):
        title = f"{title} (+{int(values['group_size']) - 1} more in its group)"
    severity = f"[{values['severity'].upper()}]"
    if event == "triggered":
        return f"{severity} {title}"
    if event == "escalated":
        return f"{severity} Escalated (level {values['level']}): {title}"
    if event == "reminder":
        return f"{severity} Reminder: {title}"
    if event == "acknowledged" and values["acknowledged_by"]:
        return f"[ACKNOWLEDGED] {title} (by {values['acknowledged_by']})"
    return f"[{event.upper()}] {title}"


def default_body(values: dict[str, str], steps: tuple[str, ...]) -> str:
    lines: list[str] = []
    if values["intro"]:
        lines += [values["intro"], ""]
    if values["summary"]:
        lines += [values["summary"], ""]
    shown = dict(values)
    if shown.get("category") and shown.get("priority"):  # business impact with its urgency
        shown["category"] += f" (priority {shown['priority']})"
    for label, key in (
        ("Check", "check"),
        ("Severity", "severity"),
        ("Category", "category"),
        ("Owner", "owner"),
        ("Runbook", "runbook"),
        ("Labels", "labels"),
    ):
        if shown.get(key):
            lines.append(f"{label + ':':<10} {shown[key]}")
    if values["affected"]:
        lines.append(f"{'Affected:':<10} unreachable because of this: {values['affected']}")
    if values.get("group"):
        lines += ["", f"{values['group_size']} incidents paged together:"]
        lines += [f"  {member}" for member in values["group"].splitlines()]
    if steps and values["event"] in _PAGES:
        lines += ["", "What to do:"]
        lines += [f"  {i}. {step}" for i, step in enumerate(steps, 1)]
    if values["ack_url"]:
        lines += ["", f"Acknowledge: {values['ack_url']}"]
    if values["opened_at"]:
        lines += ["", f"Incident {values['incident_id']}, opened {values['opened_at']}."]
    return "\n".join(lines).strip() + "\n"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"
