"""The webhook notifier against a real HTTP server on loopback."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pydantic import ValidationError

from escalatord import __version__, plugins
from escalatord.core.events import Event, IncidentView, Notification
from escalatord.errors import NotifyError
from escalatord.notify.webhook import WebhookNotifier, parse_retry_after
from tests.support.http_target import HttpTarget

OPENED = datetime(2024, 5, 17, 8, 30, 5, tzinfo=UTC)


def notification(event: Event = Event.TRIGGERED, key: str = "inc-42:triggered:0") -> Notification:
    incident = IncidentView(
        id="42",
        key="check:hl7-adt-feed",
        title="hl7-adt-feed is CRITICAL",
        status="triggered",
        severity="critical",
        check="hl7-adt-feed",
        labels={"category": "patient-care"},
        owner="clinical-apps-lead",
        runbook="https://wiki.example.org/runbooks/hl7",
        steps=("Check the interface engine queue", "Call the vendor support line"),
        summary="no heartbeat for 15m",
        opened_at=OPENED,
        ack_url="http://127.0.0.1:8425/ack/tok",
    )
    return Notification(event=event, level=0, incident=incident, key=key)


def make(url: str, **keys: object) -> WebhookNotifier:
    config = WebhookNotifier.Config(name="ops-webhook", type="webhook", url=url, **keys)
    return WebhookNotifier(config)


@pytest.fixture(scope="module")
def server() -> Iterator[HttpTarget]:
    # One server for the module: stopping one takes half a second (serve_forever's poll).
    with HttpTarget() as t:
        yield t


@pytest.fixture
def target(server: HttpTarget) -> HttpTarget:
    server.respond(200, b"ok")
    server.requests.clear()
    return server


@pytest.fixture
async def hook(target: HttpTarget) -> AsyncIterator[WebhookNotifier]:
    notifier = make(target.url("/hook"), timeout="5s")
    yield notifier
    await notifier.close()


async def send_expecting_error(notifier: WebhookNotifier) -> NotifyError:
    with pytest.raises(NotifyError) as caught:
        await notifier.send(notification())
    return caught.value


def test_registry_resolves_webhook_type() -> None:
    """`type = "webhook"` in config resolves to the webhook notifier class."""
    assert plugins.load("notifiers", "webhook") is WebhookNotifier


async def test_payload_is_exactly_the_documented_shape(
    target: HttpTarget, hook: WebhookNotifier
) -> None:
    """The receiver gets one POST whose JSON body is the DESIGN.md payload, every key present."""
    await hook.send(notification())
    [request] = target.requests
    assert request.method == "POST"
    assert request.path == "/hook"
    body = request.json()
    assert body == notification().payload()
    assert set(body) == {"version", "event", "level", "incident"}
    assert set(body["incident"]) == {
        "id", "key", "title", "status", "severity", "check", "labels",
        "owner", "runbook", "steps", "summary", "opened_at", "ack_url", "affected",
        "acknowledged_by", "category", "priority", "drill",
    }  # fmt: skip
    assert body["version"] == 1
    assert body["event"] == "triggered"
    assert body["incident"]["id"] == "42"
    assert body["incident"]["opened_at"] == "2024-05-17T08:30:05Z"
    assert datetime.fromisoformat(body["incident"]["opened_at"]) == OPENED
    assert body["incident"]["steps"] == [
        "Check the interface engine queue",
        "Call the vendor support line",
    ]


async def test_request_headers_identify_sender_and_message(
    target: HttpTarget, hook: WebhookNotifier
) -> None:
    """Each POST is JSON, names escalatord and its version, and carries the idempotency key."""
    await hook.send(notification(key="inc-42:escalated:1"))
    await hook.send(notification(key="inc-42:escalated:1"))  # a retry of the same message
    first, second = target.requests
    headers = {k.lower(): v for k, v in first.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == f"escalatord/{__version__}"
    assert headers["idempotency-key"] == "inc-42:escalated:1"
    assert {k.lower(): v for k, v in second.headers.items()}["idempotency-key"] == (
        "inc-42:escalated:1"
    )


async def test_custom_headers_are_sent(target: HttpTarget) -> None:
    """Headers from config (e.g. an Authorization token) reach the receiver."""
    notifier = make(target.url("/hook"), headers={"Authorization": "Bearer t0ken", "X-Team": "ops"})
    try:
        await notifier.send(notification())
    finally:
        await notifier.close()
    headers = {k.lower(): v for k, v in target.requests[0].headers.items()}
    assert headers["authorization"] == "Bearer t0ken"
    assert headers["x-team"] == "ops"


@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_2xx_is_delivered(target: HttpTarget, hook: WebhookNotifier, status: int) -> None:
    """Any 2xx reply counts as delivered."""
    target.respond(status, b"" if status == 204 else b"accepted")
    await hook.send(notification())


@pytest.mark.parametrize("status", [500, 502, 503, 408, 425])
async def test_server_errors_are_retryable(
    target: HttpTarget, hook: WebhookNotifier, status: int
) -> None:
    """5xx, 408 and 425 replies fail retryably, and the message names the status and body."""
    target.respond(status, "database is down\n  please wait")
    error = await send_expecting_error(hook)
    assert error.retryable
    assert str(status) in str(error)
    assert "database is down please wait" in str(error)
    assert "ops-webhook" in str(error)


async def test_429_with_retry_after_seconds(target: HttpTarget, hook: WebhookNotifier) -> None:
    """A 429 with `Retry-After: 7` is retryable and asks to wait 7 seconds."""
    target.respond(429, "slow down", headers={"Retry-After": "7"})
    error = await send_expecting_error(hook)
    assert error.retryable
    assert error.retry_after == 7
    assert "429" in str(error)


async def test_503_with_retry_after_http_date(target: HttpTarget, hook: WebhookNotifier) -> None:
    """A 503 whose Retry-After is an HTTP-date asks to wait until that date."""
    # The server stamps its own Date; the wait is measured from it, not from our clock.
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    target.respond(503, "maintenance", headers={"Retry-After": later})
    error = await send_expecting_error(hook)
    assert error.retryable
    assert error.retry_after is not None
    assert 110 <= error.retry_after <= 121


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
async def test_other_4xx_are_permanent(
    target: HttpTarget, hook: WebhookNotifier, status: int
) -> None:
    """A client error other than 408/425/429 will never succeed, so it is not retryable."""
    target.respond(status, "no such hook")
    error = await send_expecting_error(hook)
    assert not error.retryable
    assert error.retry_after is None
    assert str(status) in str(error)
    assert "no such hook" in str(error)


async def test_redirect_is_permanent_and_not_followed(
    target: HttpTarget, hook: WebhookNotifier
) -> None:
    """A redirect is reported (not followed, which could turn the POST into a GET)."""
    target.respond(301, "", headers={"Location": target.url("/elsewhere")})
    error = await send_expecting_error(hook)
    assert not error.retryable
    assert "301" in str(error) and "final address" in str(error)
    assert len(target.requests) == 1


async def test_error_body_snippet_is_short(target: HttpTarget, hook: WebhookNotifier) -> None:
    """A huge error page is cut to a short snippet in the message."""
    target.respond(500, "x" * 100_000)
    error = await send_expecting_error(hook)
    assert len(str(error)) < 400


async def test_secrets_never_appear_in_errors(target: HttpTarget) -> None:
    """Neither configured header values nor the URL's path and query show up in the message."""
    secret = "Bearer s3cret-t0ken"
    url = target.url("/hooks/T0P5ECRET?sig=abcdef123")
    target.respond(401, f"bad credentials: Authorization: {secret}")
    notifier = make(url, headers={"Authorization": secret})
    try:
        error = await send_expecting_error(notifier)
    finally:
        await notifier.close()
    text = str(error)
    assert "401" in text
    assert "s3cret" not in text
    assert "T0P5ECRET" not in text and "abcdef123" not in text
    assert f"127.0.0.1:{target.port}" in text


async def test_closed_port_is_retryable() -> None:
    """A refused connection (nothing listening) fails retryably."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # The socket is closed without listen(): connecting to the port is refused at once.
    notifier = make(f"http://127.0.0.1:{port}/hook", timeout="5s")
    try:
        error = await send_expecting_error(notifier)
    finally:
        await notifier.close()
    assert error.retryable
    assert "could not connect" in str(error)


async def test_hanging_receiver_times_out_retryably(target: HttpTarget) -> None:
    """A receiver that accepts but never answers fails retryably once the timeout passes."""
    target.respond(hang=True)
    notifier = make(target.url("/hook"), timeout="200ms")
    try:
        error = await send_expecting_error(notifier)
    finally:
        await notifier.close()
    assert error.retryable
    assert "timeout" in str(error) or "timed out" in str(error)


async def test_send_after_close_still_works(target: HttpTarget) -> None:
    """A notifier closed (e.g. by a reload) and used again opens a fresh client."""
    notifier = make(target.url("/hook"))
    await notifier.send(notification())
    await notifier.close()
    await notifier.send(notification())
    await notifier.close()
    assert len(target.requests) == 2


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/hook", "hooks.example.org/escalatord", "http://", "mailto:ops@example.org"],
)
def test_bad_url_is_rejected_with_the_fix(url: str) -> None:
    """A url that is not http(s) with a host is refused at config load, naming the key."""
    with pytest.raises(ValidationError) as caught:
        make(url)
    assert "url" in str(caught.value)
    assert "http://" in str(caught.value) or "host" in str(caught.value)


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({"Content-Type": "text/plain"}, "set by escalatord"),
        ({"Idempotency-Key": "x"}, "set by escalatord"),
        ({"Bad Name": "x"}, "not a valid header name"),
        ({"X-Evil": "a\r\nInjected: yes"}, "one line"),
        ({"X-Team": "café"}, "printable ASCII"),
    ],
)
def test_bad_headers_are_rejected(headers: dict[str, str], words: str) -> None:
    """Headers that would break the JSON contract or the request are refused at config load."""
    with pytest.raises(ValidationError) as caught:
        make("http://127.0.0.1:9/hook", headers=headers)
    assert words in str(caught.value)


def test_header_values_stay_out_of_config_repr() -> None:
    """Printing a webhook config does not reveal header values (usually credentials)."""
    config = WebhookNotifier.Config(
        name="w", type="webhook", url="http://127.0.0.1:9/", headers={"Authorization": "s3cret"}
    )
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("Fri, 17 May 2024 08:01:00 GMT", 60.0),
        ("Fri, 17 May 2024 07:00:00 GMT", 0.0),  # in the past: retry now
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_values(value: str | None, expected: float | None) -> None:
    """Retry-After is read as seconds or as an HTTP-date; nonsense is ignored."""
    now = datetime(2024, 5, 17, 8, 0, 0, tzinfo=UTC)
    assert parse_retry_after(value, now) == expected
