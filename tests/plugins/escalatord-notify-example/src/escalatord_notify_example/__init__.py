"""An example escalatord notifier: sends pages to a pager gateway's HTTP API.

The gateway (fictional, but shaped like many real ones) takes

    POST <url>   Authorization: Bearer <token>
    form fields: to=<pager number>, text=<message>, priority=high|normal

and answers 200 when it accepted the message, 4xx when it never will, 429/5xx when it is busy.
"""

from __future__ import annotations

import httpx
from pydantic import Field, SecretStr

from escalatord.core.events import Notification
from escalatord.errors import NotifyError
from escalatord.notify.base import Notifier, NotifierConfig
from escalatord.notify.templates import render


class PagerGatewayConfig(NotifierConfig):
    """Keys of a `type = "pager_gateway"` notifier (on top of name, type, timeout, max_age,
    fallback, rate_limit, template, ... that every notifier has)."""

    url: str
    token: SecretStr  # a secret: never in reprs; users write "${PAGER_TOKEN}" or token_file
    pagers: tuple[str, ...] = Field(min_length=1)


class PagerGatewayNotifier(Notifier):
    """One POST per pager; the dispatcher does retries, fallback and recording."""

    Config = PagerGatewayConfig
    config: PagerGatewayConfig

    async def send(self, notification: Notification) -> None:
        message = render(notification, self.config.template)  # title, body, short text
        priority = "high" if message.is_page else "normal"
        headers = {"Authorization": f"Bearer {self.config.token.get_secret_value()}"}
        timeout = self.config.timeout.total_seconds()
        async with httpx.AsyncClient(timeout=timeout) as client:
            for pager in self.config.pagers:
                form = {"to": pager, "text": message.short(240), "priority": priority}
                try:
                    reply = await client.post(self.config.url, data=form, headers=headers)
                except httpx.HTTPError as exc:  # network trouble: may work later
                    raise NotifyError(f"pager gateway unreachable: {exc}", retryable=True) from None
                if reply.status_code >= 300:
                    busy = reply.status_code == 429 or reply.status_code >= 500
                    raise NotifyError(
                        f"pager gateway answered {reply.status_code}: {reply.text[:200]}",
                        retryable=busy,
                    )
