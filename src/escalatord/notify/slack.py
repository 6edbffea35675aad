"""The `slack` notifier: a Block Kit message to a Slack incoming webhook.

Config keys (besides the common ones, see `NotifierConfig`):

    url      the incoming webhook URL (a secret: "${SLACK_WEBHOOK_URL}" or url_file = "...")
    mention  optional mrkdwn put before pages, e.g. "<!here>", "<!channel>", "<@U024BE7LH>"

The message has a `text` (what notifications and screen readers show) and blocks: a header
with the title, the summary, the facts (check, severity, owner, ...), the action steps, an
Acknowledge link button (pages only) and a Runbook button, and a context line. Every text is
escaped for Slack's mrkdwn (&, <, >) and cut to Block Kit's limits.

Slack answers 200 "ok"; errors are plain text ("invalid_payload", "no_service", ...) with a
4xx status (permanent) or 429/5xx (retried, Retry-After honoured).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr, field_validator

from escalatord.core.events import Notification
from escalatord.notify.base import Notifier, NotifierConfig
from escalatord.notify.http import HttpSender, check_url
from escalatord.notify.templates import Message, render

HEADER_LIMIT = 150
TEXT_LIMIT = 3000
FIELD_LIMIT = 2000
MAX_FIELDS = 10


class SlackConfig(NotifierConfig):
    """Keys of a `type = "slack"` notifier."""

    url: SecretStr
    mention: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        try:
            check_url(
                value.get_secret_value(),
                'e.g. url = "${SLACK_WEBHOOK_URL}" (https://hooks.slack.com/services/...)',
            )
        except ValueError as exc:
            raise ValueError(f"url {exc}") from None
        return value


def escape(text: str) -> str:
    """Text safe inside Slack mrkdwn: &, < and > are control characters there."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(text, limit) or "-", "emoji": True}


def _mrkdwn(text: str, limit: int = TEXT_LIMIT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _cut(text, limit) or "-"}


def blocks_payload(message: Message, mention: str | None = None) -> dict[str, Any]:
    """The webhook body for one message: {"text": ..., "blocks": [...]}."""
    f = message.fields
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _plain(message.title, HEADER_LIMIT)}]
    lead = [mention] if mention and message.is_page else []
    if message.custom_body:
        lead.append(escape(message.body))
    else:
        lead += [escape(f[key]) for key in ("intro", "summary") if f[key]]
    if lead:
        blocks.append({"type": "section", "text": _mrkdwn("\n".join(lead))})
    if not message.custom_body:
        facts = [
            ("Check", f["check"]),
            ("Severity", f["severity"]),
            ("Status", f["status"]),
            ("Owner", f["owner"]),
            ("Labels", f["labels"]),
            ("Opened", f["opened_at"]),
        ]
        fields = [
            _mrkdwn(f"*{label}*\n{escape(value)}", FIELD_LIMIT) for label, value in facts if value
        ]
        if fields:
            blocks.append({"type": "section", "fields": fields[:MAX_FIELDS]})
        if message.steps and message.is_page:
            steps = "\n".join(f"{i}. {escape(s)}" for i, s in enumerate(message.steps, 1))
            blocks.append({"type": "section", "text": _mrkdwn(f"*What to do*\n{steps}")})
    buttons = []
    if message.ack_url:
        buttons.append(
            {
                "type": "button",
                "text": _plain("Acknowledge", 75),
                "url": message.ack_url,
                "style": "danger",
                "action_id": "escalatord-ack",
            }
        )
    if f["runbook"].startswith(("https://", "http://")) and len(f["runbook"]) <= 3000:
        buttons.append(
            {
                "type": "button",
                "text": _plain("Runbook", 75),
                "url": f["runbook"],
                "action_id": "escalatord-runbook",
            }
        )
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    context = f"escalatord · incident {f['incident_id']} · {f['event']}"
    blocks.append({"type": "context", "elements": [_mrkdwn(escape(context))]})
    summary = f": {f['summary']}" if f["summary"] and not message.custom_body else ""
    text = escape(message.title + summary)
    if lead and mention and message.is_page:
        text = f"{mention} {text}"
    return {"text": _cut(text, TEXT_LIMIT), "blocks": blocks}


class SlackNotifier(Notifier):
    """POSTs one Block Kit message per notification to the incoming webhook."""

    Config = SlackConfig
    addresses_person = True  # a contact's `to` is one person's address here
    config: SlackConfig

    def __init__(self, config: SlackConfig):
        super().__init__(config)
        url = config.url.get_secret_value()
        self._http = HttpSender(
            "slack",
            config.name,
            config.timeout.total_seconds(),
            headers={"Content-Type": "application/json"},
            secrets=[*config.secret_values(), url.rsplit("/", 1)[-1]],
        )

    async def close(self) -> None:
        await self._http.close()

    async def send(self, notification: Notification) -> None:
        """Post the message; Slack's 200 means it is in the channel."""
        body = blocks_payload(render(notification, self.config.template), self.config.mention)
        await self._http.request(
            "POST",
            self.config.url.get_secret_value(),
            content=json.dumps(body, ensure_ascii=False).encode(),
        )
