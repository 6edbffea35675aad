"""The contract every notifier type fulfils: the plugin API (docs/notifiers.md has an example).

A notifier type is a `Notifier` subclass with its own `Config` model (a `NotifierConfig`
subclass: unknown keys are errors, secrets are `SecretStr`). `send()` builds and sends ONE
message for one `Notification` and raises `NotifyError` (with `retryable`) when it cannot.
Retries, backoff, rate limits, circuit breaking, fallback and recording live in the
dispatcher, once, for every type. `render(notification, config.template)` from
`escalatord.notify.templates` gives the text every built-in type sends.
"""

from __future__ import annotations

import abc
import re
from datetime import timedelta
from functools import cached_property
from typing import ClassVar

from pydantic import Field, PrivateAttr, field_validator

from escalatord.core.durations import parse_duration
from escalatord.core.events import Event, IncidentView, Notification, Person, rfc3339
from escalatord.fields import Duration, Strict, positive_timeout
from escalatord.notify.templates import TemplateConfig
from escalatord.redaction import Redactor, model_secrets

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
# Plugin authors import the words a notifier speaks from here (docs/notifiers.md).
__all__ = [
    "Event",
    "IncidentView",
    "Notification",
    "Notifier",
    "NotifierConfig",
    "Person",
    "rfc3339",
]
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\S+)\s*$")


class NotifierConfig(Strict):
    """Keys every notifier has. Type modules subclass this with their own keys.

    fallback          another notifier that gets a page this one could not deliver
    rate_limit        at most this many messages per period, e.g. "20/1m"; more wait their turn
    breaker_failures  this many failed attempts in a row open the circuit...
    breaker_cooldown  ...and for this long no attempt is made (then one trial message)
    template          { title = "...", body = "..." } overriding the default texts
    """

    name: str = Field(min_length=1, pattern=NAME)
    type: str
    max_age: Duration = timedelta(hours=1)  # give up retrying a message this old
    timeout: Duration = timedelta(seconds=10)
    fallback: str | None = Field(default=None, pattern=NAME)
    rate_limit: str | None = None
    breaker_failures: int = Field(default=5, ge=1, le=1000)
    breaker_cooldown: Duration = timedelta(seconds=60)
    template: TemplateConfig | None = None
    # Values that came from ${ENV} or a *_file key into this notifier's keys; the loader
    # sets them (config/loader.py), as they cannot be told apart once substituted.
    _loaded_secrets: frozenset[str] = PrivateAttr(default=frozenset())

    def secret_values(self) -> set[str]:
        """Values an error text about this notifier must never show (escalatord.redaction):
        `SecretStr` and `repr=False` fields, the user info and every query value of its URLs,
        and whatever came from ${ENV} or a `*_file` key."""
        return model_secrets(self) | self._loaded_secrets

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        return positive_timeout(value)

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rate(value)
        return value

    @property
    def rate(self) -> tuple[int, float] | None:
        """(messages, per seconds) from `rate_limit`, or None for no limit."""
        return parse_rate(self.rate_limit) if self.rate_limit else None


def parse_rate(text: str) -> tuple[int, float]:
    """ "20/1m" -> (20, 60.0). Raises ValueError naming the expected form."""
    form = 'write it as messages/period, e.g. rate_limit = "20/1m"'
    found = _RATE.match(text)
    if not found:
        raise ValueError(f"rate_limit {text!r} is not valid: {form}")
    count = int(found.group(1))
    try:
        period = parse_duration(found.group(2)).total_seconds()
    except ValueError:
        raise ValueError(f"rate_limit {text!r}: the period is not a duration; {form}") from None
    if count < 1 or period <= 0:
        raise ValueError(f"rate_limit {text!r} must allow at least 1 message per period; {form}")
    return count, period


class Notifier(abc.ABC):
    """Base class of notifier types. Subclasses set `Config` and implement `send()`."""

    Config: ClassVar[type[NotifierConfig]] = NotifierConfig
    # Whether a [[person.contact]] may name a notifier of this type: its messages can go to one
    # person's address (the contact's `to`) rather than to a fixed channel. check-config refuses
    # a contact on a type that leaves this False (config/people_checks.py).
    addresses_person: ClassVar[bool] = False

    def __init__(self, config: NotifierConfig):
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name

    @cached_property
    def redact(self) -> Redactor:
        """Masks this notifier's secrets in a text; the dispatcher passes every error text
        through it before the text reaches the log, the timeline, the outbox or the CLI."""
        return Redactor(self.config.secret_values())

    @abc.abstractmethod
    async def send(self, notification: Notification) -> None:
        """Deliver one message or raise NotifyError."""

    async def close(self) -> None:
        """Release clients; called on shutdown and when a reload drops the notifier."""
        return  # optional: most types hold nothing of their own
