"""The `twilio_sms` notifier: a short SMS with the ack link, through Twilio's Messages API.

Config keys (besides the common ones, see `NotifierConfig`):

    account_sid            "AC…" (34 characters), from the Twilio console
    auth_token             its Auth Token, a secret: "${TWILIO_AUTH_TOKEN}" or auth_token_file
    from                   the sending number in E.164 ("+15017122661") or an alphanumeric
                           sender ID; or instead
    messaging_service_sid  "MG…", to let a Messaging Service pick the sender
    to                     the phone numbers to text, in E.164 (a list); a page to a person
                           texts the number of their contact instead (`notification.to`)
    max_length             longest text sent (default 320: two SMS segments; at most 1600)
    api_url                default "https://api.twilio.com"

Each number gets one `POST /2010-04-01/Accounts/<account_sid>/Messages.json`, form-encoded
To, From (or MessagingServiceSid) and Body, with HTTP basic auth (account SID, auth token).
The text is the title and summary, shortened so the ack link always fits whole; a template
`body` replaces it. Twilio answers 201 with the message; errors carry Twilio's code and
message (400s such as 21211 "invalid To number" are permanent; 429 and 5xx are retried).
When a retry follows a partial failure, numbers already texted for that notification are
skipped (remembered while the daemon runs).
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Callable

import httpx
from pydantic import Field, SecretStr, field_validator, model_validator

from escalatord.core.events import Notification
from escalatord.errors import NotifyError
from escalatord.notify.base import Notifier, NotifierConfig
from escalatord.notify.http import HttpSender, Reply, check_url
from escalatord.notify.templates import render

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_SENDER_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_ACCOUNT = re.compile(r"^AC[0-9a-fA-F]{32}$")
_SERVICE = re.compile(r"^MG[0-9a-fA-F]{32}$")
REMEMBER = 1000  # notifications whose per-number progress is kept for retries


class TwilioSmsConfig(NotifierConfig):
    """Keys of a `type = "twilio_sms"` notifier."""

    account_sid: str
    auth_token: SecretStr
    from_: str | None = Field(default=None, alias="from")
    messaging_service_sid: str | None = None
    to: tuple[str, ...] = Field(min_length=1)
    max_length: int = Field(default=320, ge=70, le=1600)
    api_url: str = "https://api.twilio.com"

    @field_validator("account_sid")
    @classmethod
    def _account(cls, value: str) -> str:
        if not _ACCOUNT.match(value):
            raise ValueError('account_sid must look like "AC" followed by 32 hex digits')
        return value

    @field_validator("messaging_service_sid")
    @classmethod
    def _service(cls, value: str | None) -> str | None:
        if value is not None and not _SERVICE.match(value):
            raise ValueError('messaging_service_sid must look like "MG" + 32 hex digits')
        return value

    @field_validator("to")
    @classmethod
    def _to(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for number in value:
            if not E164.match(number):
                raise ValueError(
                    f'to: {number!r} is not an E.164 number; write it like "+15558675310"'
                )
        return value

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str | None) -> str | None:
        if value is not None and not (E164.match(value) or _SENDER_ID.match(value)):
            raise ValueError(
                'from must be an E.164 number ("+15017122661") or an alphanumeric sender '
                "ID of up to 11 letters, digits and spaces"
            )
        return value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        try:
            return check_url(value, 'e.g. api_url = "https://api.twilio.com"').rstrip("/")
        except ValueError as exc:
            raise ValueError(f"api_url {exc}") from None

    @model_validator(mode="after")
    def _sender(self) -> TwilioSmsConfig:
        if (self.from_ is None) == (self.messaging_service_sid is None):
            raise ValueError("set exactly one of from and messaging_service_sid")
        return self


class TwilioSmsNotifier(Notifier):
    """Texts every number in `to`; one API request per number."""

    Config = TwilioSmsConfig
    addresses_person = True  # a contact's `to` is one person's address here
    config: TwilioSmsConfig

    def __init__(self, config: TwilioSmsConfig):
        super().__init__(config)
        token = config.auth_token.get_secret_value()
        self._auth = httpx.BasicAuth(config.account_sid, token)
        self._url = f"{config.api_url}/2010-04-01/Accounts/{config.account_sid}/Messages.json"
        self._http = HttpSender(
            "twilio_sms",
            config.name,
            config.timeout.total_seconds(),
            secrets=config.secret_values(),
        )
        self._texted: OrderedDict[str, set[str]] = OrderedDict()

    async def close(self) -> None:
        await self._http.close()

    async def send(self, notification: Notification) -> None:
        """Text each number not yet texted for this notification; raise on the first failure."""
        numbers = self.config.to
        if notification.to is not None:
            if not E164.match(notification.to):
                # Twilio would refuse it (21211) on every retry: the contact must be fixed.
                raise NotifyError(
                    f"twilio_sms {self.name!r}: the contact's to {notification.to!r} is not an "
                    'E.164 number; write it like "+15558675310"',
                    retryable=False,
                )
            numbers = (notification.to,)
        text = render(notification, self.config.template).short(self.config.max_length)
        done = self._texted.setdefault(notification.key, set())
        self._texted.move_to_end(notification.key)
        while len(self._texted) > REMEMBER:
            self._texted.popitem(last=False)
        for number in numbers:
            if number in done:
                continue
            await self._text(number, text)
            done.add(number)

    async def _text(self, number: str, text: str) -> None:
        form = {"To": number, "Body": text}
        if self.config.messaging_service_sid:
            form["MessagingServiceSid"] = self.config.messaging_service_sid
        else:
            form["From"] = self.config.from_ or ""
        # Twilio's 201 body is the Message resource; nothing in it changes the outcome.
        await self._http.request(
            "POST", self._url, data=form, auth=self._auth, explain=twilio_error(number)
        )


def twilio_error(number: str) -> Callable[[Reply], str]:
    """Quote Twilio's error JSON as "<code> <message> (to <number>)"."""

    def explain(reply: Reply) -> str:
        try:
            data = json.loads(reply.body)
            return f"{data['code']} {data['message']} (to {number})"
        except (ValueError, KeyError, TypeError):
            return f"{reply.text()} (to {number})"

    return explain
