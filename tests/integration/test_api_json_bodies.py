"""Bodies the JSON endpoints refuse (api/body.py), over real HTTP into a running App: a 4xx
naming the problem, never a 500, and credentials in headers checked before the body is read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from escalatord.app import App
from escalatord.incidents import service
from tests.support.app import running_app

WRITE_TOKEN = "write-token-0123456789abcdef"
ROUTING_KEY = "R0UT1NGK3Y0123456789abcdef012345"
BEAT_TOKEN = "beat-token-0123456789abcdef"
PAGERDUTY = "/api/v1/events/pagerduty"
ALERTMANAGER = "/api/v1/alerts/alertmanager"
JSON = {"Content-Type": "application/json"}
AUTH = {"Authorization": f"Bearer {WRITE_TOKEN}"}
DEEP = b"[" * 100_000
EVENT = (
    '{"routing_key": "%s", "event_action": "trigger", "dedup_key": "k1", "payload": '
    '{"summary": "%s", "source": "db-primary", "severity": "critical"}}'
)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    body = f"""
        [api]
        write_tokens = ["{WRITE_TOKEN}"]
        routing_keys = ["{ROUTING_KEY}"]

        [[check]]
        name = "nightly"
        type = "heartbeat"
        every = "1h"
        grace = "1h"
        token = "{BEAT_TOKEN}"

        [[rule]]
        name = "everything"
        severity = "critical"
    """
    async with running_app(tmp_path / "escalatord.db", body) as running:
        yield running


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=app.base_url, timeout=20) as c:  # type: ignore[attr-defined]
        yield c


async def incidents(app: App) -> list[object]:
    async with app.store.read() as conn:
        return list(await service.list_incidents(conn))


async def test_pagerduty_lone_surrogate_routing_key_is_400(app: App, client: httpx.AsyncClient):
    """`{"routing_key": "\\ud800"}` with no credential is a 400 naming the key and the lone
    surrogate, not a 500 with a traceback."""
    reply = await client.post(PAGERDUTY, content=b'{"routing_key": "\\ud800"}', headers=JSON)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"].startswith(
        "routing_key: not Unicode text: a lone surrogate (\\ud800) at character 1"
    )
    assert "Traceback" not in reply.text and await incidents(app) == []


async def test_surrogate_elsewhere_in_an_authenticated_event_is_400(
    app: App, client: httpx.AsyncClient
):
    """A lone surrogate in the summary of an event with a good routing key is a 400 naming
    `payload.summary`; nothing is opened."""
    raw = (EVENT % (ROUTING_KEY, "lag \\udfff")).encode()
    reply = await client.post(PAGERDUTY, content=raw, headers=JSON)
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("payload.summary: not Unicode text")
    assert await incidents(app) == []


@pytest.mark.parametrize("url", [PAGERDUTY, ALERTMANAGER])
async def test_deeply_nested_body_is_400(client: httpx.AsyncClient, url: str):
    """A body of 100,000 `[` is a 400 saying it nests too deep, on both ingest endpoints."""
    headers = {**JSON, **AUTH}
    reply = await client.post(url, content=DEEP, headers=headers)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == "the body nests arrays and objects deeper than 32 levels"


async def test_alertmanager_checks_the_token_before_the_body(client: httpx.AsyncClient):
    """Without a token the Alertmanager endpoint answers 401 whatever the body: it is not read."""
    for body in (DEEP, b'{"alerts": ["\\ud800"]}', b"not json"):
        reply = await client.post(ALERTMANAGER, content=body, headers=JSON)
        assert reply.status_code == 401, reply.text


async def test_alertmanager_surrogate_in_every_alert_is_400(client: httpx.AsyncClient):
    """After authentication, a batch whose only alert has a lone surrogate is a 400 naming it."""
    raw = b'{"alerts": [{"status": "firing", "labels": {"alertname": "\\ud800"}}]}'
    reply = await client.post(ALERTMANAGER, content=raw, headers={**JSON, **AUTH})
    assert reply.status_code == 400
    assert "alerts[0].labels.alertname: not Unicode text" in reply.json()["error"]


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
@pytest.mark.parametrize("url", [PAGERDUTY, ALERTMANAGER])
async def test_non_json_bodies_are_415(
    app: App, client: httpx.AsyncClient, url: str, content_type: str | None
):
    """A body not sent as application/json in UTF-8 (none, text, a form, another charset) is
    a 415 that says which Content-Type to send."""
    raw = (EVENT % (ROUTING_KEY, "lag")).encode()
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
    reply = await client.post(url, content=raw, headers=headers)
    assert reply.status_code == 415, reply.text
    assert "application/json" in reply.json()["error"]
    assert await incidents(app) == []


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "Application/JSON", "application/vnd.pd+json"],
)
async def test_json_content_types_senders_use_are_taken(
    app: App, client: httpx.AsyncClient, content_type: str
):
    """application/json with a UTF-8 charset, in any case, or a +json type is accepted."""
    raw = (EVENT % (ROUTING_KEY, "lag")).encode()
    reply = await client.post(PAGERDUTY, content=raw, headers={"Content-Type": content_type})
    assert reply.status_code == 202, reply.text
    assert len(await incidents(app)) == 1


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"\xff\xfe{}", "the body is not UTF-8 text: byte 0xff at offset 0"),
        (b"", "the body is empty"),
        (b"[" + b"9" * 5000 + b"]", "the body holds a number too long to read"),
    ],
    ids=["latin1", "empty", "long-number"],
)
async def test_unreadable_bodies_are_400(client: httpx.AsyncClient, body: bytes, text: str):
    """Bytes that are not UTF-8, an empty body and a number Python will not convert are 400s."""
    reply = await client.post(PAGERDUTY, content=body, headers={**JSON, **AUTH})
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"].startswith(text)


async def test_heartbeats_still_take_any_body(client: httpx.AsyncClient):
    """A heartbeat is no JSON endpoint: plain text, no Content-Type, or bytes that are not
    UTF-8 are all accepted as its message."""
    url = f"/heartbeat/nightly?token={BEAT_TOKEN}"
    for body, headers in (
        (b"processed 120 messages", {"Content-Type": "text/plain"}),
        (b"[" * 1000, {}),
        (b"\xff\xfe bytes", {"Content-Type": "application/octet-stream"}),
    ):
        reply = await client.post(url, content=body, headers=headers)
        assert reply.status_code == 200, reply.text
