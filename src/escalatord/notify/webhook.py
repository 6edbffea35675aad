"""The `webhook` notifier: POSTs the public JSON payload (DESIGN.md "Webhook payload").

Config keys (besides the common ones, see `NotifierConfig`):

    url               http:// or https:// address to POST to
    headers           extra request headers, e.g. { Authorization = "Bearer ${HOOK_TOKEN}" }
    secret            optional key: every request is signed with HMAC-SHA256 of its body
    signature_header  where the signature goes (default X-Escalatord-Signature)

A page to a person goes to the same `url`: its payload names the person and carries the
contact's `to` (`"person": {"name", "full_name"}, "to": "..."`), for the receiver to route.

Every request carries `Content-Type: application/json`, `User-Agent: escalatord/<version>`
and `Idempotency-Key: <notification key>`: delivery is at-least-once, so a receiver that
sees the same key twice should drop the second copy. With `secret`, the signature header is
`sha256=<hex HMAC-SHA256 of the exact body bytes>`; a receiver recomputes it with the same
key and compares in constant time (e.g. Python's hmac.compare_digest).

Outcome classification is `escalatord.notify.http`'s (2xx delivered; 5xx, 408, 425, 429 and
network trouble retryable with Retry-After honoured; redirects and other 4xx permanent).
Error messages never include the full URL (webhook URLs often carry a token in their path or
query), a configured header value, nor the secret; and where a receiver echoes the request
in its error body, every query value of `url`, its user info, the header values, the secret
and whatever came from ${ENV} or a `*_file` key are masked as *** (escalatord.redaction).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re

from pydantic import Field, SecretStr, field_validator

from escalatord.core.events import Notification
from escalatord.fields import check_headers
from escalatord.notify.base import Notifier, NotifierConfig
from escalatord.notify.http import (
    USER_AGENT,
    HttpSender,
    check_url,
    is_retryable_status,
    origin,
    parse_retry_after,
)

__all__ = [
    "USER_AGENT",
    "WebhookConfig",
    "WebhookNotifier",
    "is_retryable_status",
    "parse_retry_after",
    "sign",
]

# Headers escalatord sets itself; letting config override them would break the contract
# (JSON body, dedup by key) or the HTTP framing.
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "transfer-encoding", "host", "idempotency-key", "user-agent"}
)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field-name


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body`: "sha256=" + hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookConfig(NotifierConfig):
    """Keys of a `type = "webhook"` notifier."""

    url: str
    # repr=False: header values are usually credentials; keep them out of reprs and tracebacks.
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    secret: SecretStr | None = None
    signature_header: str = "X-Escalatord-Signature"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            return check_url(value, 'e.g. url = "https://hooks.example.org/escalatord"')
        except ValueError as exc:
            raise ValueError(f"url {exc}") from None

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError(
                "secret must be at least 16 characters; generate one with: openssl rand -hex 32"
            )
        return value

    @field_validator("signature_header")
    @classmethod
    def _signature_header(cls, value: str) -> str:
        if not _TOKEN.match(value) or value.lower() in RESERVED_HEADERS:
            raise ValueError(
                f"signature_header {value!r} must be a header name of its own "
                "(letters, digits and -), e.g. X-Escalatord-Signature"
            )
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        return check_headers(value, RESERVED_HEADERS)


class WebhookNotifier(Notifier):
    """POSTs `notification.payload()` as JSON to `url`. One HTTP client per notifier."""

    Config = WebhookConfig
    addresses_person = True  # a contact's `to` is one person's address here
    config: WebhookConfig

    def __init__(self, config: WebhookConfig):
        super().__init__(config)
        # Only scheme, host and port: path, query and user info may hold a token.
        self.origin = origin(config.url)
        secret = config.secret.get_secret_value() if config.secret else None
        self._secret = secret
        self._http = HttpSender(
            "webhook",
            config.name,
            config.timeout.total_seconds(),
            headers={**config.headers, "Content-Type": "application/json"},
            secrets=config.secret_values(),  # headers, secret, url's query values, ${ENV}
        )

    async def close(self) -> None:
        """Close the HTTP client and its pooled connections."""
        await self._http.close()

    async def send(self, notification: Notification) -> None:
        """POST one notification; return on 2xx, else raise NotifyError."""
        body = json.dumps(
            notification.payload(), ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode("utf-8")
        headers = {"Idempotency-Key": notification.key}
        if self._secret is not None:
            headers[self.config.signature_header] = sign(self._secret, body)
        await self._http.request("POST", self.config.url, content=body, headers=headers)
