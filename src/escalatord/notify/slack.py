"""The `slack` notifier: a Block Kit message to a Slack incoming webhook, or to one person.

Config keys (besides the common ones, see `NotifierConfig`):

    url        the incoming webhook URL (a secret: "${SLACK_WEBHOOK_URL}" or url_file = "...")
    mention    optional mrkdwn put before pages, e.g. "<!here>", "<!channel>", "<@U024BE7LH>"
    bot_token  a Bot User OAuth Token ("xoxb-…", a secret) with the chat:write scope: needed
               for pages to a person, which go to their contact's user or channel id
    api_url    Slack's Web API, default "https://slack.com/api"

A page to a person (`notification.to`: a member id "U…" for a direct message from the app, or
a channel id "C…") is posted with the Web API's `chat.postMessage` and the bot token, the same
blocks plus `channel`, without `mention`. Without bot_token it fails at once, not retried
(check-config should refuse such a contact). The Web API answers 200 even for errors, with
{"ok": false, "error": "..."}: "ratelimited" and Slack's own trouble ("internal_error", ...)
are retried, the rest ("channel_not_found", "invalid_auth", ...) are permanent.

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
from escalatord.notify.http import (
    HttpSender,
    Reply,
    check_url,
    origin,
    parse_retry_after,
    reply_time,
)
from escalatord.notify.templates import Message, render

HEADER_LIMIT = 150
TEXT_LIMIT = 3000
FIELD_LIMIT = 2000
MAX_FIELDS = 10
# Web API errors that may pass: rate limits and Slack's own trouble. Any other is permanent.
RETRYABLE_API_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_API_HINTS = {
    "channel_not_found": "give a member id (U…) or a channel id (C…) the app can see",
    "not_in_channel": "invite the app to that channel",
    "is_archived": "the channel is archived",
    "invalid_auth": "check bot_token",
    "not_authed": "check bot_token",
    "token_revoked": "the bot token was revoked: set a new bot_token",
    "account_inactive": "the bot token was revoked: set a new bot_token",
    "missing_scope": "give the Slack app the chat:write scope",
}


class SlackConfig(NotifierConfig):
    """Keys of a `type = "slack"` notifier."""

    url: SecretStr
    mention: str | None = None
    bot_token: SecretStr | None = None
    api_url: str = "https://slack.com/api"

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

    @field_validator("bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        token = value.get_secret_value() if value is not None else ""
        if value is not None and (not token.startswith("xox") or len(token.split()) != 1):
            raise ValueError(
                'bot_token must be a Slack token, "xoxb-…" (the app\'s Bot User OAuth Token), '
                'e.g. bot_token = "${SLACK_BOT_TOKEN}"'
            )
        return value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        try:
            return check_url(value, 'e.g. api_url = "https://slack.com/api"').rstrip("/")
        except ValueError as exc:
            raise ValueError(f"api_url {exc}") from None


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
        if f.get("group"):  # a storm's group: every incident the message is about
            listed = "\n".join(f"• {escape(member)}" for member in f["group"].splitlines())
            head = f"*{f['group_size']} incidents paged together*"
            blocks.append({"type": "section", "text": _mrkdwn(f"{head}\n{listed}")})
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
    """POSTs one Block Kit message per notification to the incoming webhook; a page to a
    person goes to their user or channel id through the Web API instead."""

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
        """Post the message: to the incoming webhook (Slack's 200 means it is in the channel),
        or for a page to a person with chat.postMessage to their contact's id."""
        message = render(notification, self.config.template)
        if notification.to is not None:
            await self._post_to(notification.to, message)
            return
        body = blocks_payload(message, self.config.mention)
        await self._http.request(
            "POST",
            self.config.url.get_secret_value(),
            content=json.dumps(body, ensure_ascii=False).encode(),
        )

    async def _post_to(self, channel: str, message: Message) -> None:
        """chat.postMessage to a user or channel id; raise NotifyError unless Slack says ok."""
        cfg = self.config
        url = f"{cfg.api_url}/chat.postMessage"
        where = origin(url)
        if cfg.bot_token is None:
            raise self._http.error(
                where,
                "a page to a person needs the Web API, and this notifier has no bot_token: set "
                'bot_token = "${SLACK_BOT_TOKEN}" (a Bot User OAuth Token with chat:write), or '
                "give the person a contact on another notifier",
                False,
            )
        if not channel.strip():
            raise self._http.error(
                where, "the contact's to is empty: give a user or channel id", False
            )
        # The mention is for a shared channel; a page to one person already reaches them.
        body = {"channel": channel, **blocks_payload(message)}
        reply = await self._http.request(
            "POST",
            url,
            content=json.dumps(body, ensure_ascii=False).encode(),
            headers={
                # Slack's Web API wants the charset said, else it warns "missing_charset".
                "Content-Type": "application/json; charset=utf-8",
                "Authorization": f"Bearer {cfg.bot_token.get_secret_value()}",
            },
        )
        self._check_api_reply(where, channel, reply)

    def _check_api_reply(self, where: str, channel: str, reply: Reply) -> None:
        try:
            data = json.loads(reply.body)
            ok, error = bool(data["ok"]), str(data.get("error") or "")
        except (ValueError, KeyError, TypeError):
            raise self._http.error(
                where,
                f"answered {reply.status} without Slack's JSON; check api_url"
                + self._http.snippet(reply.text()),
                False,
            ) from None
        if ok:
            return
        retryable = error in RETRYABLE_API_ERRORS
        hint = _API_HINTS.get(error)
        detail = f"chat.postMessage to {channel!r} failed: {error or 'no error given'}"
        retry_after = None
        if retryable:
            retry_after = parse_retry_after(reply.headers.get("Retry-After"), reply_time(reply))
        raise self._http.error(
            where, detail + (f" ({hint})" if hint else ""), retryable, retry_after
        )
