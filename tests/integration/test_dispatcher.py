"""Delivery from the outbox to a real webhook sink: retries, permanent failures, muting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from escalatord.core.rules import Decision
from escalatord.incidents import service
from escalatord.notify import delivery as dispatch_module
from escalatord.notify.delivery import backoff
from escalatord.notify.dispatcher import Dispatcher
from escalatord.notify.webhook import WebhookNotifier
from escalatord.store.tables import outbox
from tests.support.http_target import HttpTarget, Reply
from tests.support.outbox import open_paged, run_until

DECISION = Decision(rules=("r",), severity="error", policy="p", owner="", runbook="", steps=())


def webhook(name: str, url: str, **extra) -> WebhookNotifier:
    return WebhookNotifier(
        WebhookNotifier.Config.model_validate(
            {"name": name, "type": "webhook", "url": url, "timeout": "1s", **extra}
        )
    )


@pytest.fixture
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(dispatch_module, "BACKOFF_BASE", 0.05)


async def page(store, *notifiers: str, key: str = "db") -> int:
    return await open_paged(
        store, [{"after": "0s", "notify": list(notifiers)}], key=key, decision=DECISION
    )


async def rows(store, incident_id: int) -> list[tuple]:
    async with store.read() as conn:
        result = await conn.execute(
            select(outbox.c.notifier, outbox.c.event, outbox.c.status, outbox.c.attempts)
            .where(outbox.c.incident_id == incident_id)
            .order_by(outbox.c.id)
        )
        return [tuple(r) for r in result]


async def kinds(store, incident_id):
    async with store.read() as conn:
        return [(e.kind, e.message) for e in await service.get_timeline(conn, incident_id)]


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    """Each retry waits about twice as long as the last, never more than five minutes."""
    mid = lambda a, b: (a + b) / 2  # noqa: E731 - jitter at its midpoint
    first = backoff(1, mid)
    assert [backoff(n, mid) / first for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff(50, mid) == 300.0
    assert 0.5 * first <= backoff(1) <= 1.5 * first


async def test_delivered_once_after_server_errors(store, sink):
    """A sink that fails twice with 500 then accepts gets the page exactly once, recorded."""
    sink.then(Reply(500, "boom"), Reply(503, "busy"))
    incident_id = await page(store, "ops")
    d = Dispatcher(store, {"ops": webhook("ops", sink.url("/hook"))}, poll=0.05)

    async def delivered():
        return (await rows(store, incident_id))[0][2] == "delivered"

    await run_until(d, delivered)
    assert (await rows(store, incident_id)) == [("ops", "triggered", "delivered", 3)]
    assert [r.json()["event"] for r in sink.requests] == ["triggered"] * 3
    assert len({r.headers["Idempotency-Key"] for r in sink.requests}) == 1
    timeline = await kinds(store, incident_id)
    assert [k for k, _ in timeline].count("retry") == 2
    assert timeline[-1] == ("delivered", "triggered delivered to ops")


async def test_permanent_failure_is_not_retried_and_is_recorded(store, sink):
    """A 404 fails the notification at once and the incident timeline says why."""
    sink.respond(404, "no such hook")
    incident_id = await page(store, "ops")
    d = Dispatcher(store, {"ops": webhook("ops", sink.url("/hook"))}, poll=0.05)

    async def failed():
        return (await rows(store, incident_id))[0][2] == "failed"

    await run_until(d, failed)
    assert len(sink.requests) == 1
    [message] = [m for k, m in await kinds(store, incident_id) if k == "failed"]
    assert "permanent" in message and "404" in message


async def test_gives_up_after_max_age(store, sink):
    """A sink that never recovers is retried until max_age, then marked failed."""
    sink.respond(500, "down")
    incident_id = await page(store, "ops")
    d = Dispatcher(store, {"ops": webhook("ops", sink.url("/hook"), max_age="300ms")}, poll=0.05)

    async def failed():
        return (await rows(store, incident_id))[0][2] == "failed"

    await run_until(d, failed)
    assert len(sink.requests) >= 2
    [message] = [m for k, m in await kinds(store, incident_id) if k == "failed"]
    assert "gave up" in message


async def test_a_hung_notifier_does_not_delay_another(store, sink):
    """While one endpoint hangs, the other notifier's page is delivered promptly."""
    sink.respond(hang=True, path="/slow")
    sink.respond(200, "ok", path="/fast")
    incident_id = await page(store, "slow", "fast")
    d = Dispatcher(
        store,
        {"slow": webhook("slow", sink.url("/slow")), "fast": webhook("fast", sink.url("/fast"))},
        poll=0.05,
    )

    async def fast_done():
        return any(r[0] == "fast" and r[2] == "delivered" for r in await rows(store, incident_id))

    await run_until(d, fast_done, within=0.9)  # well inside the slow one's 1 s timeout


async def test_pages_for_an_acknowledged_incident_are_not_sent(store, sink):
    """A page still queued when the incident is acknowledged is muted, not delivered."""
    incident_id = await page(store, "ops")
    async with store.write() as conn:
        await service.acknowledge(conn, incident_id, by="alice", now=datetime.now(UTC))
    d = Dispatcher(store, {"ops": webhook("ops", sink.url("/hook"))}, poll=0.05)

    async def settled():
        return all(r[2] != "pending" for r in await rows(store, incident_id))

    await run_until(d, settled)
    assert [r.json()["event"] for r in sink.requests] == ["acknowledged"]
    assert [r[:3] for r in await rows(store, incident_id)] == [
        ("ops", "triggered", "muted"),
        ("ops", "acknowledged", "delivered"),
    ]
