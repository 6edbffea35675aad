"""HTTP delivery shared by the HTTP-based notifiers (webhook, slack, teams, pagerduty, ntfy,
twilio_sms): one client per notifier, one time limit per exchange, and one classification of
outcomes into delivered / retryable / permanent.

    2xx                                   returned as a `Reply` (status, headers, body)
    connect error, timeout, broken
    connection, 5xx, 408, 425, 429        NotifyError(retryable=True), `Retry-After` honoured
                                          (up to 1 hour)
    3xx (never followed), other 4xx       NotifyError(retryable=False)

Error messages name the notifier and its type, the origin (scheme, host, port: paths and
queries of chat webhooks are credentials), the status and a snippet of the reply with every
configured secret masked (escalatord.redaction) before it is cut to length: a reply that
echoes the request line or the URL shows `token=***`.
"""

from __future__ import annotations

import asyncio
import functools
import math
import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from escalatord import __version__
from escalatord.errors import NotifyError
from escalatord.redaction import Redactor

USER_AGENT = f"escalatord/{__version__}"
RETRYABLE_STATUSES = frozenset({408, 425, 429})  # plus every 5xx
SNIPPET_CHARS = 200
BODY_LIMIT = 64 * 1024  # read at most this much of any reply
MAX_RETRY_AFTER = 3600.0  # seconds: the longest Retry-After honoured (see parse_retry_after)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP-date.

    `now` is the moment the date is measured from (the reply's `Date` if it had one, so a
    skewed local clock does not matter). Returns None for a missing or unreadable value; a
    date in the past means "now" (0). The wait is capped at MAX_RETRY_AFTER (1 hour): a
    server asking for longer (or for years, by mistake or malice) gets retried after an hour,
    and the notifier's `max_age` and fallback decide what happens to the message meanwhile.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return min(float(text), MAX_RETRY_AFTER)  # a long digit string is a huge float, or inf
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110: HTTP-dates are GMT
        when = when.replace(tzinfo=UTC)
    seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def is_retryable_status(status: int) -> bool:
    """Whether a non-2xx status may succeed later (server trouble, rate limits)."""
    return status >= 500 or status in RETRYABLE_STATUSES


def origin(url: str) -> str:
    """scheme://host[:port] of `url`: what error messages may show of it."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{parsed.scheme}://{host}{port}"


def check_url(value: str, example: str) -> str:
    """Validate an http(s) URL from config; ValueError naming the fix otherwise."""
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid address ({exc}); {example}") from None
    if url.scheme not in ("http", "https"):
        got = f"scheme {url.scheme!r}" if url.scheme else "no scheme"
        raise ValueError(f"must start with http:// or https:// (got {got}); {example}")
    if not url.host:
        raise ValueError(f"has no host name; {example}")
    if url.port is not None and not 0 < url.port < 65536:
        raise ValueError(f"has port {url.port}, outside 1..65535; {example}")
    return value


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verification context (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), made
    once per process and shared by every notifier's client: each load of the CA bundle costs
    tens of milliseconds."""
    return httpx.create_ssl_context()


@dataclass(frozen=True)
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class HttpSender:
    """One notifier's HTTP client. `kind` and `name` label errors ("slack 'ops-chat'")."""

    def __init__(
        self,
        kind: str,
        name: str,
        timeout: float,
        *,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
    ):
        self.kind = kind
        self.name = name
        self.timeout = timeout
        self.headers = {**(headers or {}), "User-Agent": USER_AGENT}
        self.redact = Redactor(secrets)
        # Built now, when the notifier is built (daemon start, reload), not on the first send:
        # the first client of a process imports httpcore and loads the CA certificates, which
        # the first page of a storm used to wait for (bench/RESULTS.md, "Issue 6: pages leave
        # fast").
        self._client: httpx.AsyncClient | None = self._new_client()

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,  # a redirected POST may silently become a GET
            headers=self.headers,
            verify=_tls_context(),
        )

    def _get_client(self) -> httpx.AsyncClient:
        # Made again after close(), so a notifier closed by a reload and then reused still works.
        if self._client is None:
            self._client = self._new_client()
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        explain: Callable[[Reply], str] | None = None,
        **kwargs: Any,
    ) -> Reply:
        """Send one request; return the 2xx reply or raise NotifyError.

        `explain(reply)` turns an error reply into the text quoted in the message (default:
        the start of its body), e.g. to pick a service's error code out of its JSON.
        """
        where = origin(url)
        try:
            # httpx times each phase (connect, write, each read) separately; the outer limit
            # bounds the whole exchange, so a server trickling bytes cannot hold it longer.
            async with asyncio.timeout(self.timeout):
                reply = await self._exchange(method, url, **kwargs)
        except TimeoutError:
            raise self.error(where, f"no reply within {self.timeout:g}s (timeout)", True) from None
        except httpx.TimeoutException as exc:
            phase = type(exc).__name__.removesuffix("Timeout").lower() or "request"
            raise self.error(
                where, f"{phase} timed out after {self.timeout:g}s (timeout)", True
            ) from None
        except (httpx.LocalProtocolError, httpx.UnsupportedProtocol) as exc:
            # Our own request could not be formed: retrying sends the same bad request.
            # The library's text is left out: it may quote a header value.
            raise self.error(
                where,
                f"request could not be sent ({type(exc).__name__}); check the url and headers",
                False,
            ) from None
        except httpx.ConnectError as exc:
            # Refused, no route, DNS failure, TLS handshake or certificate failure.
            reason = self.scrub(str(exc)) or "ConnectError"
            raise self.error(where, f"could not connect ({reason})", True) from None
        except httpx.TransportError as exc:
            # The connection broke mid-exchange (reset, peer hung up without a reply).
            reason = self.scrub(str(exc)) or type(exc).__name__
            raise self.error(where, f"{type(exc).__name__}: {reason}", True) from None
        if 200 <= reply.status < 300:
            return reply
        self.raise_for(where, reply, explain(reply) if explain else None)
        raise AssertionError("unreachable")

    async def _exchange(self, method: str, url: str, **kwargs: Any) -> Reply:
        client = self._get_client()
        async with client.stream(method, url, **kwargs) as response:
            data = b""
            try:
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) >= BODY_LIMIT:
                        break
            except httpx.HTTPError:
                if 200 <= response.status_code < 300:
                    raise
                # An error reply cut short: its status alone still explains the failure.
            return Reply(response.status_code, response.headers, data[:BODY_LIMIT])

    def raise_for(self, where: str, reply: Reply, detail: str | None = None) -> None:
        """Raise the NotifyError a non-2xx `reply` means."""
        phrase = httpx.codes.get_reason_phrase(reply.status)
        status = f"{reply.status} {phrase}".strip()
        snippet = self.snippet(detail if detail is not None else reply.text())
        if 300 <= reply.status < 400:
            raise self.error(
                where,
                f"answered {status} (redirects are not followed; set the final address)" + snippet,
                False,
            )
        retryable = is_retryable_status(reply.status)
        retry_after = None
        if retryable:
            retry_after = parse_retry_after(reply.headers.get("Retry-After"), reply_time(reply))
        raise self.error(where, f"answered {status}" + snippet, retryable, retry_after)

    def scrub(self, text: str) -> str:
        """`text` with every configured secret replaced by ***."""
        return self.redact(text)

    def snippet(self, text: str) -> str:
        """': <first characters of text>' with secrets blanked, or '' for an empty text."""
        text = self.scrub(" ".join(text.split()))
        if not text:
            return ""
        if len(text) > SNIPPET_CHARS:
            text = text[:SNIPPET_CHARS] + "…"
        return f": {text}"

    def error(
        self, where: str, detail: str, retryable: bool, retry_after: float | None = None
    ) -> NotifyError:
        return NotifyError(
            f"{self.kind} {self.name!r} ({where}): {detail}",
            retryable=retryable,
            retry_after=retry_after,
        )


def reply_time(reply: Reply) -> datetime:
    """The server's clock (its `Date`), which its Retry-After date is relative to."""
    for value in reply.headers.get_list("Date"):
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            continue
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    return datetime.now(UTC)
