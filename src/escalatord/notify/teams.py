"""The `teams` notifier: an Adaptive Card to a Microsoft Teams channel.

Config keys (besides the common ones, see `NotifierConfig`):

    url   the webhook URL (a secret): a Teams Workflows "When a Teams webhook request is
          received" trigger (Power Automate), or a legacy Incoming Webhook connector

The body is what both accept: {"type": "message", "attachments": [one attachment of
contentType "application/vnd.microsoft.card.adaptive" whose content is an AdaptiveCard 1.4]}.
The card has the title, the summary, a FactSet (check, severity, owner, ...), the action
steps and Action.OpenUrl buttons: Acknowledge (pages only) and Runbook. Teams reads TextBlocks
and Facts as Markdown: every text in them is escaped (see `escape`), so a summary or plugin
output cannot restyle the card or fake links; a template's body is shown as written, too.

Workflows answer 202 Accepted; the legacy connector 200 with body "1", and it reports its
own throttling as a 200 whose body mentions "HTTP error 429": that is treated as retryable.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import SecretStr, field_validator

from escalatord.core.events import Notification
from escalatord.notify.base import Notifier, NotifierConfig
from escalatord.notify.http import HttpSender, check_url, origin
from escalatord.notify.templates import Message, render

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
_COLOURS = {"critical": "Attention", "error": "Attention", "warning": "Warning"}
# What Teams' Markdown subset (bold, italic, lists, links) reads as markup: emphasis marks, a
# backslash that would escape the next character, and the "](" that makes "[text](url)" a link.
_INLINE = re.compile(r"[*_]|\\(?=[!-/:-@\[-`{-~])|\](?=\()")
# A line starting a list item: "- ", "+ ", "3. ", "3) ".
_BLOCK = re.compile(r"^([ \t]*(?:\d+)?)([-+.)])(?=[ \t])", re.MULTILINE)


def escape(text: str) -> str:
    """`text` shown as written in a TextBlock or Fact, which Teams reads as Markdown.

    Summaries, plugin output and labels come from the monitored systems: `**`, `_` or
    `[x](url)` in them must not restyle the card or fake a link. Only what Teams would read
    as markup is backslash-escaped (CommonMark's escape), because some Teams clients (mobile)
    show the backslashes: "[CRITICAL] web" stays as it is, "check_disk" becomes "check\\_disk".
    """
    text = _INLINE.sub(lambda found: "\\" + found.group(0), text)
    return _BLOCK.sub(_escape_block, text)


def _escape_block(found: re.Match[str]) -> str:
    lead, mark = found.group(1), found.group(2)
    numbered = lead.strip() != ""
    if (mark in ".)") != numbered:  # "." with no number, or "12-3": no list item
        return found.group(0)
    return f"{lead}\\{mark}"


class TeamsConfig(NotifierConfig):
    """Keys of a `type = "teams"` notifier."""

    url: SecretStr

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        try:
            check_url(value.get_secret_value(), 'e.g. url = "${TEAMS_WEBHOOK_URL}"')
        except ValueError as exc:
            raise ValueError(f"url {exc}") from None
        return value


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def card(message: Message) -> dict[str, Any]:
    """The AdaptiveCard for one message."""
    f = message.fields
    if message.is_page:
        colour = _COLOURS.get(f["severity"], "Default")
    else:
        colour = "Good" if f["event"] in ("acknowledged", "resolved", "closed") else "Default"
    # Every text from outside escalatord is escaped; the card's look comes from its styles.
    body: list[dict[str, Any]] = [
        _text(escape(message.title), size="Large", weight="Bolder", color=colour)
    ]
    if message.custom_body:
        body.append(_text(escape(message.body)))
    else:
        body += [_text(escape(f[key])) for key in ("intro", "summary") if f[key]]
        facts = [
            {"title": label, "value": escape(f[key])}
            for label, key in (
                ("Check", "check"),
                ("Severity", "severity"),
                ("Status", "status"),
                ("Owner", "owner"),
                ("Labels", "labels"),
                ("Opened", "opened_at"),
            )
            if f[key]
        ]
        if facts:
            body.append({"type": "FactSet", "facts": facts})
        if message.steps and message.is_page:
            body.append(_text("What to do", weight="Bolder"))
            steps = enumerate(message.steps, 1)  # a Markdown list of escaped steps
            body.append(_text("\n".join(f"{i}. {escape(s)}" for i, s in steps)))
    body.append(
        _text(
            escape(f"escalatord · incident {f['incident_id']} · {f['event']}"),
            size="Small",
            isSubtle=True,
        )
    )
    actions: list[dict[str, Any]] = []
    if message.ack_url:
        actions.append(
            {
                "type": "Action.OpenUrl",
                "title": "Acknowledge",
                "url": message.ack_url,
                "style": "destructive",
            }
        )
    if f["runbook"].startswith(("https://", "http://")):
        actions.append({"type": "Action.OpenUrl", "title": "Runbook", "url": f["runbook"]})
    content: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        content["actions"] = actions
    return content


def payload(message: Message) -> dict[str, Any]:
    """The webhook body: a message with one Adaptive Card attachment."""
    return {
        "type": "message",
        "attachments": [
            {"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card(message)}
        ],
    }


class TeamsNotifier(Notifier):
    """POSTs one Adaptive Card per notification."""

    Config = TeamsConfig
    config: TeamsConfig

    def __init__(self, config: TeamsConfig):
        super().__init__(config)
        self._http = HttpSender(
            "teams",
            config.name,
            config.timeout.total_seconds(),
            headers={"Content-Type": "application/json"},
            secrets=config.secret_values(),
        )

    async def close(self) -> None:
        await self._http.close()

    async def send(self, notification: Notification) -> None:
        """Post the card; a 2xx reply that reports throttling is retried."""
        url = self.config.url.get_secret_value()
        body = payload(render(notification, self.config.template))
        reply = await self._http.request(
            "POST", url, content=json.dumps(body, ensure_ascii=False).encode()
        )
        text = reply.text()
        if "HTTP error 429" in text:
            raise self._http.error(
                origin(url), f"throttled by Teams{self._http.snippet(text)}", True
            )
