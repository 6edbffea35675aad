"""The `webhook` notifier: POSTs the public JSON payload (DESIGN.md "Webhook payload").

Config keys (besides `name`, `type`, `timeout`, `max_age`):

    url      http:// or https:// address to POST to
    headers  extra request headers, e.g. { Authorization = "Bearer ${HOOK_TOKEN}" }

Every request carries `Content-Type: application/json`, `User-Agent: escalatord/<version>`
and `Idempotency-Key: <notification key>`: delivery is at-least-once, so a receiver that
sees the same key twice should drop the second copy.

Outcome classification (the dispatcher retries; this module never does):

    2xx                                   delivered
    connect error, timeout, 5xx, 408,
    425, 429                              NotifyError(retryable=True), `Retry-After` honoured
    3xx, any other 4xx                    NotifyError(retryable=False)

Error messages name the notifier, the status and a snippet of the reply body. They never
include the full URL (webhook URLs often carry a token in their path or query) nor any
configured header value (those are usually credentials).
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from pydantic import Field, field_validator

from escalatord import __version__
from escalatord.errors import NotifyError
from escalatord.notify.base import Notification, Notifier, NotifierConfig

USER_AGENT = f"escalatord/{__version__}"
RETRYABLE_STATUSES = frozenset({408, 425, 429})  # plus every 5xx
SNIPPET_BYTES = 2048  # read at most this much of an error reply: enough to explain, no more
SNIPPET_CHARS = 200

# Headers escalatord sets itself; letting config override them would break the contract
# (JSON body, dedup by key) or the HTTP framing.
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "transfer-encoding", "host", "idempotency-key", "user-agent"}
)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field-name


class WebhookConfig(NotifierConfig):
    """Keys of a `type = "webhook"` notifier."""

    url: str
    # repr=False: header values are usually credentials; keep them out of reprs and tracebacks.
    headers: dict[str, str] = Field(default_factory=dict, repr=False)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        example = 'e.g. url = "https://hooks.example.org/escalatord"'
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(f"url is not a valid address ({exc}); {example}") from None
        if url.scheme not in ("http", "https"):
            got = f"scheme {url.scheme!r}" if url.scheme else "no scheme"
            raise ValueError(f"url must start with http:// or https:// (got {got}); {example}")
        if not url.host:
            raise ValueError(f"url has no host name; {example}")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _TOKEN.match(name):
                raise ValueError(
                    f"headers: {name!r} is not a valid header name "
                    "(letters, digits and -, no spaces or colons)"
                )
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(
                    f"headers: {name!r} is set by escalatord itself; remove it from headers"
                )
            # A CR or LF would let a value smuggle extra headers into the request; other
            # control or non-ASCII characters would make every send fail at the HTTP layer.
            if not all(" " <= c <= "~" or c == "\t" for c in text):
                raise ValueError(
                    f"headers.{name}: the value must be one line of printable ASCII "
                    "(no CR, LF or other control characters, no accents)"
                )
        return value


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP-date.

    `now` is the moment the date is measured from (the reply's `Date` if it had one, so a
    skewed local clock does not matter). Returns None for a missing or unreadable value; a
    date in the past means "now" (0).
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110: HTTP-dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def is_retryable_status(status: int) -> bool:
    """Whether a non-2xx status may succeed later (server trouble, rate limits)."""
    return status >= 500 or status in RETRYABLE_STATUSES


class WebhookNotifier(Notifier):
    """POSTs `notification.payload()` as JSON to `url`. One HTTP client per notifier."""

    Config = WebhookConfig
    config: WebhookConfig

    def __init__(self, config: WebhookConfig):
        super().__init__(config)
        url = httpx.URL(config.url)
        # Only scheme, host and port: path, query and user info may hold a token.
        port = f":{url.port}" if url.port else ""
        host = f"[{url.host}]" if ":" in url.host else url.host
        self.origin = f"{url.scheme}://{host}{port}"
        self._client: httpx.AsyncClient | None = None

    def _get_client(self) -> httpx.AsyncClient:
        # Created on first use (inside the running loop) and again after close(), so a
        # notifier that was closed by a reload and then reused still works.
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.config.timeout.total_seconds()),
                follow_redirects=False,  # a redirected POST may silently become a GET
                headers={
                    **self.config.headers,
                    "User-Agent": USER_AGENT,
                    "Content-Type": "application/json",
                },
            )
        return self._client

    async def close(self) -> None:
        """Close the HTTP client and its pooled connections."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def send(self, notification: Notification) -> None:
        """POST one notification; return on 2xx, else raise NotifyError."""
        body = json.dumps(
            notification.payload(), ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode("utf-8")
        timeout = self.config.timeout.total_seconds()
        try:
            # httpx times each phase (connect, write, each read) separately; the outer limit
            # bounds the whole exchange, so a server trickling bytes cannot hold it longer.
            async with asyncio.timeout(timeout):
                await self._post(body, notification.key)
        except TimeoutError:
            raise self._error(f"no reply within {timeout:g}s (timeout)", retryable=True) from None
        except httpx.TimeoutException as exc:
            phase = type(exc).__name__.removesuffix("Timeout").lower() or "request"
            raise self._error(
                f"{phase} timed out after {timeout:g}s (timeout)", retryable=True
            ) from None
        except (httpx.LocalProtocolError, httpx.UnsupportedProtocol) as exc:
            # Our own request could not be formed: retrying sends the same bad request.
            # The library's text is left out: it may quote a header value.
            raise self._error(
                f"request could not be sent ({type(exc).__name__}); check url and headers",
                retryable=False,
            ) from None
        except httpx.ConnectError as exc:
            # Refused, no route, DNS failure, TLS handshake or certificate failure.
            raise self._error(f"could not connect ({str(exc) or 'ConnectError'})", True) from None
        except httpx.TransportError as exc:
            # The connection broke mid-exchange (reset, peer hung up without a reply).
            reason = str(exc) or type(exc).__name__
            raise self._error(f"{type(exc).__name__}: {reason}", retryable=True) from None

    async def _post(self, body: bytes, key: str) -> None:
        client = self._get_client()
        headers = {"Idempotency-Key": key}
        async with client.stream("POST", self.config.url, content=body, headers=headers) as reply:
            if 200 <= reply.status_code < 300:
                return
            snippet = await self._snippet(reply)
            status = f"{reply.status_code} {reply.reason_phrase}".strip()
            if 300 <= reply.status_code < 400:
                raise self._error(
                    f"answered {status} (redirects are not followed; "
                    "set url to the final address)" + snippet,
                    retryable=False,
                )
            retryable = is_retryable_status(reply.status_code)
            retry_after = None
            if retryable:
                retry_after = parse_retry_after(
                    reply.headers.get("Retry-After"), self._reply_time(reply)
                )
            raise self._error(f"answered {status}" + snippet, retryable, retry_after)

    async def _snippet(self, reply: httpx.Response) -> str:
        """': <first characters of the body>', with configured header values blanked out."""
        data = b""
        try:
            async for chunk in reply.aiter_bytes():
                data += chunk
                if len(data) >= SNIPPET_BYTES:
                    break
        except httpx.HTTPError:
            pass  # the status alone still explains the failure
        text = " ".join(data[:SNIPPET_BYTES].decode("utf-8", "replace").split())
        # Some receivers echo the request (headers included) in their error page.
        for secret in self.config.headers.values():
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        if not text:
            return ""
        if len(text) > SNIPPET_CHARS:
            text = text[:SNIPPET_CHARS] + "…"
        return f": {text}"

    @staticmethod
    def _reply_time(reply: httpx.Response) -> datetime:
        """The server's clock (its `Date`), which its Retry-After date is relative to."""
        for value in reply.headers.get_list("Date"):
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                continue
            return when if when.tzinfo else when.replace(tzinfo=UTC)
        return datetime.now(UTC)

    def _error(self, detail: str, retryable: bool, retry_after: float | None = None) -> NotifyError:
        return NotifyError(
            f"webhook {self.name!r} ({self.origin}): {detail}",
            retryable=retryable,
            retry_after=retry_after,
        )
