"""The `ntfy` notifier: a push notification through an ntfy server (ntfy.sh or your own).

Config keys (besides the common ones, see `NotifierConfig`):

    server    default "https://ntfy.sh"
    topic     the topic to publish to (on a public server the topic name is the password:
              pick one nobody can guess); a page to a person is published to the topic of
              their contact instead (`notification.to`), on the same server with the same auth
    token     an access token (Authorization: Bearer), a secret; or
    username  and password (a secret) for basic auth
    tags      extra tags, e.g. ["hospital"]

The message body is the text message; headers carry the rest, as ntfy's publish API reads
them: X-Title, X-Priority (from the severity: critical 5, error 4, warning 3, info 2; messages
that only inform, such as resolved, 2), X-Tags (an emoji by event and severity, the check,
your tags), X-Click and X-Actions (a "view" button: Acknowledge, for pages, and Runbook).
Header values that are not ASCII are sent RFC 2047-encoded, which ntfy decodes; URLs are
percent-encoded instead (and their host IDNA-encoded), which every browser reads.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from typing import Any

import httpx
from pydantic import Field, SecretStr, field_validator, model_validator

from escalatord.core.events import Notification
from escalatord.errors import NotifyError
from escalatord.notify.base import Notifier, NotifierConfig
from escalatord.notify.http import HttpSender, check_url
from escalatord.notify.templates import Message, render

PRIORITIES = {"critical": 5, "error": 4, "warning": 3, "info": 2}
INFORM_PRIORITY = 2
_EMOJI = {
    "critical": "rotating_light",
    "error": "rotating_light",
    "warning": "warning",
    "info": "information_source",
    "acknowledged": "eyes",
    "resolved": "white_check_mark",
    "closed": "white_check_mark",
    "test": "test_tube",
}
_TOPIC = re.compile(r"^[-_A-Za-z0-9]{1,64}$")
_TAG = re.compile(r"^[^,;\r\n]{1,64}$")


class NtfyConfig(NotifierConfig):
    """Keys of a `type = "ntfy"` notifier."""

    server: str = "https://ntfy.sh"
    topic: str
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    tags: tuple[str, ...] = Field(default=())

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        try:
            return check_url(value, 'e.g. server = "https://ntfy.sh"').rstrip("/")
        except ValueError as exc:
            raise ValueError(f"server {exc}") from None

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        if not _TOPIC.match(value):
            raise ValueError("topic must be 1-64 letters, digits, - or _ (ntfy's rule)")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for tag in value:
            if not _TAG.match(tag):
                raise ValueError(f"tags: {tag!r} must be one short line without , or ;")
        return value

    @model_validator(mode="after")
    def _auth(self) -> NtfyConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: set both, or neither")
        if self.token is not None and self.username is not None:
            raise ValueError("set either token or username and password, not both")
        return self


def header_value(text: str) -> str:
    """`text` as an HTTP header value: as is when ASCII, else one RFC 2047 encoded word."""
    text = " ".join(text.split())
    if text.isascii():
        return text
    return "=?UTF-8?B?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def url_value(url: str) -> str:
    """`url` as ASCII for a header: host IDNA-encoded, path, query and fragment
    percent-encoded (escapes already there are kept). ntfy does not decode RFC 2047 inside
    X-Actions, and httpx refuses non-ASCII header values outright."""
    try:
        return str(httpx.URL(url.strip()))
    except httpx.InvalidURL:  # e.g. a control character: encode every byte that is not safe
        return urllib.parse.quote(url.strip(), safe=":/?#[]@!$&'()*+,;=%~")


def _quoted(value: str) -> str:
    return f'"{value}"' if any(c in value for c in ",;") else value


def headers(message: Message, extra_tags: tuple[str, ...] = ()) -> dict[str, str]:
    """The publish headers for one message."""
    f = message.fields
    if message.is_page:
        priority = PRIORITIES.get(f["severity"], 3)
        emoji = _EMOJI.get(f["severity"], "warning")
    else:
        priority = 3 if f["event"] == "test" else INFORM_PRIORITY
        emoji = _EMOJI.get(f["event"], "information_source")
    tags = [emoji, *([f["check"]] if f["check"] else []), *extra_tags]
    out = {
        "X-Title": header_value(message.title),
        "X-Priority": str(priority),
        "X-Tags": header_value(",".join(tags)),
    }
    actions = []
    if message.ack_url:
        ack_url = url_value(message.ack_url)
        actions.append(f"view, Acknowledge, {_quoted(ack_url)}, clear=true")
        out["X-Click"] = ack_url
    if f["runbook"].startswith(("https://", "http://")):
        actions.append(f"view, Runbook, {_quoted(url_value(f['runbook']))}")
    if actions:
        out["X-Actions"] = "; ".join(actions)
    return out


class NtfyNotifier(Notifier):
    """Publishes one message per notification to `server`/`topic`."""

    Config = NtfyConfig
    addresses_person = True  # a contact's `to` is one person's address here
    config: NtfyConfig

    def __init__(self, config: NtfyConfig):
        super().__init__(config)
        self._auth: Any = None
        base: dict[str, str] = {"Content-Type": "text/plain; charset=utf-8"}
        if config.token is not None:
            base["Authorization"] = f"Bearer {config.token.get_secret_value()}"
        elif config.username is not None and config.password is not None:
            self._auth = httpx.BasicAuth(config.username, config.password.get_secret_value())
        self._http = HttpSender(
            "ntfy",
            config.name,
            config.timeout.total_seconds(),
            headers=base,
            secrets=config.secret_values(),
        )

    async def close(self) -> None:
        await self._http.close()

    async def send(self, notification: Notification) -> None:
        """Publish; ntfy answers 200 with the stored message as JSON."""
        topic = self.config.topic
        if notification.to is not None:
            if not _TOPIC.match(notification.to):
                # Checked here too, as the topic becomes the URL's path. Not quoted: on a public
                # server a topic is as good as a password.
                raise NotifyError(
                    f"ntfy {self.name!r}: the contact's to is not a topic: "
                    "1-64 letters, digits, - or _ (ntfy's rule)",
                    retryable=False,
                )
            topic = notification.to
        message = render(notification, self.config.template)
        await self._http.request(
            "POST",
            f"{self.config.server}/{topic}",
            content=message.body.encode("utf-8"),
            headers=headers(message, self.config.tags),
            auth=self._auth,
        )
