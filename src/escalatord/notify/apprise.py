"""The `apprise` notifier: any service Apprise knows (100+: Telegram, Signal, Matrix, Discord,
Pushover, Gotify, Mattermost, SMS gateways, …), addressed by an Apprise URL.

Config keys (besides the common ones, see `NotifierConfig`):

    urls   Apprise URLs, e.g. ["tgram://${TG_BOT_TOKEN}/${TG_CHAT_ID}"]: they hold
           credentials, so they are secrets (use ${ENV} or urls_file, one URL a line)

Each URL is checked when the config is loaded (Apprise must recognise it). The message is the
title and the plain-text body (with the ack link for pages); Apprise's notify type follows
the event: failure for critical and error pages, warning, info, and success for resolved and
closed. Apprise does not say why a service failed in a way that tells transient from
permanent, so every failure is retried until `max_age`, and the error message quotes
Apprise's log lines (with the URLs blanked out). With several URLs, a retry sends to all of
them again: give each channel its own notifier when duplicates matter.

The apprise package is imported only when a notifier of this type is configured.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, SecretStr, field_validator

from escalatord.core.events import Notification
from escalatord.errors import NotifyError
from escalatord.notify.base import Notifier, NotifierConfig
from escalatord.notify.templates import Message, render
from escalatord.workers import WorkerPool

LOG_CHARS = 300
# Apprise blocks: sends run in the notifier's own threads, not the loop's shared executor
# (where a hung job elsewhere would hold these messages back).
SEND_THREADS = 4


def _lines(value: Any) -> Any:
    """`urls_file` gives one string: one URL a line (blank lines and # comments skipped)."""
    if isinstance(value, str):
        lines = (line.strip() for line in value.splitlines())
        return tuple(line for line in lines if line and not line.startswith("#"))
    return value


class AppriseConfig(NotifierConfig):
    """Keys of a `type = "apprise"` notifier."""

    urls: Annotated[tuple[SecretStr, ...], BeforeValidator(_lines)] = Field(min_length=1)

    @field_validator("urls")
    @classmethod
    def _known(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        import apprise

        # Apprise logs the whole URL it cannot parse, credentials included: not in our log.
        logger = logging.getLogger("apprise")
        quiet, logger.disabled = logger.disabled, True
        try:
            known = [apprise.Apprise.instantiate(u.get_secret_value()) is not None for u in value]
        finally:
            logger.disabled = quiet
        for index, (url, ok) in enumerate(zip(value, known, strict=True)):  # from 0, as loader.py
            if not ok:
                scheme = url.get_secret_value().partition("://")[0] or "(none)"
                raise ValueError(
                    f"urls[{index}] (scheme {scheme!r}) is not a URL Apprise can use; see "
                    "https://github.com/caronc/apprise/wiki for each service's URL form"
                )
        return value


def notify_type(message: Message) -> str:
    """Apprise's notify type for a message: info, success, warning or failure."""
    if message.is_page:
        severity = message.fields["severity"]
        return {"critical": "failure", "error": "failure", "warning": "warning"}.get(
            severity, "info"
        )
    return "success" if message.event in ("resolved", "closed") else "info"


class AppriseNotifier(Notifier):
    """Sends through Apprise in a worker thread (Apprise is synchronous)."""

    Config = AppriseConfig
    config: AppriseConfig

    def __init__(self, config: AppriseConfig):
        super().__init__(config)
        self._apprise: Any = None
        self._threads = WorkerPool(f"apprise-{config.name}", SEND_THREADS)

    async def close(self) -> None:
        """Let the send threads end (a send in progress finishes in its thread)."""
        self._threads.close()

    def _client(self) -> Any:
        if self._apprise is None:
            import apprise

            client = apprise.Apprise()
            for url in self.config.urls:
                client.add(url.get_secret_value())
            self._apprise = client
        return self._apprise

    async def send(self, notification: Notification) -> None:
        """Notify every URL; raise a retryable NotifyError quoting Apprise if any failed."""
        message = render(notification, self.config.template)
        await self._threads.run(self._notify, message)

    def _notify(self, message: Message) -> None:
        import apprise

        client = self._client()
        with apprise.LogCapture(level=logging.WARNING) as captured:
            ok = client.notify(
                body=message.body, title=message.title, notify_type=notify_type(message)
            )
        if not ok:
            # Masked before it is cut: the URLs and the ${ENV} parts of them (a bot token).
            text = self.redact(" ".join(captured.getvalue().split()))
            if len(text) > LOG_CHARS:
                text = text[:LOG_CHARS] + "…"
            raise NotifyError(
                f"apprise {self.name!r}: not delivered" + (f": {text}" if text else ""),
                retryable=True,
            )
