"""PagerDuty Events API v2 shaped events into a running App: rules, dedup, ack, resolve, auth."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from escalatord.app import App
from escalatord.incidents import service
from tests.support.app import eventually, running_app
from tests.support.http_target import HttpTarget

ROUTING_KEY = "R0UT1NGK3Y0123456789abcdef012345"
WRITE_TOKEN = "write-token-0123456789abcdef"
URL = "/api/v1/events/pagerduty"


@pytest.fixture(scope="module")
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


@pytest.fixture
async def app(tmp_path: Path, sink: HttpTarget) -> AsyncIterator[App]:
    sink.requests.clear()
    body = f"""
        [api]
        write_tokens = ["{WRITE_TOKEN}"]
        routing_keys = ["{ROUTING_KEY}"]

        [[rule]]
        name = "database"
        match = {{ check = "db-primary" }}
        owner = "dba-team"
        steps = ["Fail over to the replica"]
        continue = true

        [[rule]]
        name = "pages from other tools"
        match = {{ ingest = "pagerduty", severity = ["critical", "error", "warning"] }}
        severity = "critical"
        policy = "page"

        [[policy]]
        name = "page"
          [[policy.level]]
          after = "0s"
          notify = ["sink"]

        [[notifier]]
        name = "sink"
        type = "webhook"
        url = "{sink.url("/hook")}"
    """
    async with running_app(tmp_path / "escalatord.db", body) as running:
        yield running


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=app.base_url, timeout=10) as c:  # type: ignore[attr-defined]
        yield c


def event(action: str = "trigger", dedup_key: str | None = "db-1", **payload: Any) -> dict:
    body: dict[str, Any] = {"routing_key": ROUTING_KEY, "event_action": action}
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    if action == "trigger":
        body["payload"] = {
            "summary": "Replication lag 120s on db-primary",
            "source": "db-primary",
            "severity": "critical",
            "component": "postgres",
            **payload,
        }
    return body


def events(sink: HttpTarget) -> list[str]:
    return [r.json()["event"] for r in sink.requests]


async def open_incidents(app: App) -> list[Any]:
    async with app.store.read() as conn:
        return await service.list_incidents(conn)


async def test_trigger_opens_an_incident_through_the_rules(
    app: App, client: httpx.AsyncClient, sink: HttpTarget
):
    """A trigger answers like PagerDuty (202, dedup_key) and pages through the matched rules."""
    reply = await client.post(URL, json=event())
    assert reply.status_code == 202
    assert reply.json() == {"status": "success", "message": "Event processed", "dedup_key": "db-1"}
    await eventually(lambda: events(sink) == ["triggered"], what="the page")
    incident = sink.requests[0].json()["incident"]
    assert incident["check"] == "db-primary"
    assert incident["title"] == "Replication lag 120s on db-primary"
    assert incident["summary"] == "Replication lag 120s on db-primary"
    assert incident["owner"] == "dba-team" and incident["severity"] == "critical"
    assert incident["steps"] == ["Fail over to the replica"]
    assert incident["key"] == "pagerduty:db-1"
    assert incident["labels"] == {
        "ingest": "pagerduty",
        "source": "db-primary",
        "severity": "critical",
        "component": "postgres",
    }


async def test_repeated_trigger_is_deduplicated_then_ack_and_resolve(
    app: App, client: httpx.AsyncClient, sink: HttpTarget
):
    """A repeated dedup_key pages once; acknowledge and resolve act on that incident."""
    for _ in range(3):
        assert (await client.post(URL, json=event())).status_code == 202
    assert len(await open_incidents(app)) == 1
    await eventually(lambda: events(sink) == ["triggered"], what="one page")
    assert (await client.post(URL, json=event("acknowledge"))).status_code == 202
    await eventually(lambda: events(sink) == ["triggered", "acknowledged"], what="the ack")
    assert sink.requests[1].json()["incident"]["status"] == "acknowledged"
    assert (await client.post(URL, json=event("resolve"))).status_code == 202
    await eventually(lambda: events(sink)[-1] == "resolved", what="the resolution")
    assert await open_incidents(app) == []


async def test_trigger_without_dedup_key_gets_one(app: App, client: httpx.AsyncClient):
    """Without dedup_key one is made and returned; resolving with it closes the incident."""
    reply = await client.post(URL, json=event(dedup_key=None))
    key = reply.json()["dedup_key"]
    assert len(key) >= 16
    assert [i.key for i in await open_incidents(app)] == [f"pagerduty:{key}"]
    await client.post(URL, json=event("resolve", dedup_key=key))
    assert await open_incidents(app) == []


async def test_no_matching_rule_opens_nothing(app: App, client: httpx.AsyncClient):
    """An event no rule matches is accepted (202) but opens no incident."""
    reply = await client.post(URL, json=event(severity="info", source="batch-host"))
    assert reply.status_code == 202
    assert await open_incidents(app) == []


async def test_authentication(app: App, client: httpx.AsyncClient):
    """No routing key or token is 401; an unknown routing key 403; a write token is enough."""
    anonymous = {k: v for k, v in event().items() if k != "routing_key"}
    missing = await client.post(URL, json=anonymous)
    assert missing.status_code == 401 and "routing_key is required" in missing.json()["error"]
    unknown = await client.post(URL, json={**event(), "routing_key": "x" * 32})
    assert unknown.status_code == 403 and unknown.json()["error"] == "unknown routing_key"
    bad_token = await client.post(
        URL, json={**event(), "routing_key": "x" * 32}, headers={"Authorization": "Bearer nope"}
    )
    assert bad_token.status_code == 403
    by_token = await client.post(
        URL,
        json={**event(), "routing_key": "any-key"},
        headers={"Authorization": f"Bearer {WRITE_TOKEN}"},
    )
    assert by_token.status_code == 202
    assert await open_incidents(app) != []


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"{not json", "the body is not valid JSON"),
        ({**event(), "event_action": "explode"}, "event_action: Input should be 'trigger'"),
        (event(summary=""), "payload.summary: String should have at least 1 character"),
        (event(severity="fatal"), "payload.severity: Input should be 'critical'"),
        ({k: v for k, v in event().items() if k != "payload"}, "payload is required for trigger"),
        (event("acknowledge", dedup_key=None), "dedup_key is required for acknowledge"),
    ],
)
async def test_invalid_events_are_400_with_the_reason(
    app: App, client: httpx.AsyncClient, body: Any, text: str
):
    """Malformed events are refused with 400 and a message naming the field."""
    if isinstance(body, bytes):
        reply = await client.post(URL, content=body, headers={"Content-Type": "application/json"})
    else:
        reply = await client.post(URL, json=body)
    assert reply.status_code == 400, reply.text
    assert text in reply.json()["error"]
    assert await open_incidents(app) == []
