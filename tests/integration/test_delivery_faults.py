"""Guaranteed delivery under faults, on SQLite and PostgreSQL, with real webhook sinks:
Retry-After, fallback after max_age or a permanent failure, a page that reaches nobody,
rate limits, the circuit breaker, and ack links that stay the same across retries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from escalatord.config.model import DaemonConfig
from escalatord.core.rules import Decision
from escalatord.incidents import service
from escalatord.notify import delivery as dispatch_module
from escalatord.notify.dispatcher import Dispatcher
from escalatord.notify.links import AckLinks
from escalatord.notify.webhook import WebhookNotifier
from escalatord.store.tables import incidents, outbox
from tests.support.http_target import HttpTarget, Reply
from tests.support.outbox import open_paged, run_until

DECISION = Decision(rules=("r",), severity="critical", policy="p", owner="", runbook="", steps=())


@pytest.fixture
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        s.respond(200, "ok")
        yield s


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(dispatch_module, "BACKOFF_BASE", 0.05)


def hook(sink: HttpTarget, name: str, **keys) -> WebhookNotifier:
    config = {"name": name, "type": "webhook", "url": sink.url(f"/{name}"), "timeout": "1s"}
    return WebhookNotifier(WebhookNotifier.Config.model_validate({**config, **keys}))


async def page(store, *levels: list[str], key: str = "db") -> int:
    """Open an incident whose policy pages `levels[0]` now and level i after i hours."""
    return await open_paged(
        store, [{"after": f"{i}h", "notify": names} for i, names in enumerate(levels)], key=key
    )


async def rows(store, incident_id: int) -> list[tuple]:
    async with store.read() as conn:
        result = await conn.execute(
            select(outbox.c.notifier, outbox.c.event, outbox.c.status)
            .where(outbox.c.incident_id == incident_id)
            .order_by(outbox.c.id)
        )
        return [tuple(r) for r in result]


async def timeline(store, incident_id: int) -> list[tuple[str, str]]:
    async with store.read() as conn:
        return [(e.kind, e.message) for e in await service.get_timeline(conn, incident_id)]


def settled(store, incident_id: int):
    async def check() -> bool:
        found = await rows(store, incident_id)
        return bool(found) and all(r[2] != "pending" for r in found)

    return check


async def test_429_retry_after_is_honoured(store, sink):
    """A 429 with Retry-After: 1 delays the next attempt by at least a second (backoff alone
    would retry after ~50 ms), then the page is delivered once."""
    sink.then(Reply(429, "slow down", {"Retry-After": "1"}))
    incident_id = await page(store, ["ops"])
    d = Dispatcher(store, {"ops": hook(sink, "ops")}, poll=0.05)
    await run_until(d, settled(store, incident_id))
    first, second = sink.requests
    assert second.at - first.at >= 1.0
    assert await rows(store, incident_id) == [("ops", "triggered", "delivered")]
    assert any("retrying in 1.0s" in m for k, m in await timeline(store, incident_id))


async def test_down_past_max_age_goes_to_the_fallback(store, sink):
    """Chat down for longer than its max_age: the page goes to the SMS fallback, the timeline
    says so, and the later ack is sent to SMS (which paged someone), not to the dead chat."""
    sink.respond(500, "down", path="/chat")
    incident_id = await page(store, ["chat"])
    notifiers = {
        "chat": hook(sink, "chat", max_age="1s", fallback="sms"),
        "sms": hook(sink, "sms"),
    }
    d = Dispatcher(store, notifiers, poll=0.05)
    await run_until(d, settled(store, incident_id))
    assert await rows(store, incident_id) == [
        ("chat", "triggered", "failed"),
        ("sms", "triggered", "delivered"),
    ]
    kinds = [k for k, _ in await timeline(store, incident_id)]
    assert "retry" in kinds
    assert kinds[-3:] == ["failed", "fallback", "delivered"]
    story = dict(await timeline(store, incident_id))
    assert "gave up after" in story["failed"]
    assert story["fallback"] == "triggered to chat could not be delivered: sending it to sms"
    assert d.fallbacks == 1 and d.failed == 1

    async with store.write() as conn:
        await service.acknowledge(conn, incident_id, by="alice", now=datetime.now(UTC))
    await run_until(d, settled(store, incident_id))
    assert [r.path for r in sink.requests if r.json()["event"] == "acknowledged"] == ["/sms"]


async def test_permanent_failure_falls_back_at_once(store, sink):
    """A 404 is not retried: the fallback gets the page right away."""
    sink.respond(404, "no such hook", path="/chat")
    incident_id = await page(store, ["chat"])
    d = Dispatcher(
        store, {"chat": hook(sink, "chat", fallback="sms"), "sms": hook(sink, "sms")}, poll=0.05
    )
    await run_until(d, settled(store, incident_id))
    assert [r.path for r in sink.requests] == ["/chat", "/sms"]


async def test_a_page_that_reaches_nobody_escalates_at_once(store, sink):
    """When every page of level 0 failed for good, level 1 (due in an hour) is paged now,
    and the level after it keeps its own time."""
    sink.respond(404, "gone", path="/dead")
    incident_id = await page(store, ["dead"], ["manager"], ["director"])
    notifiers = {name: hook(sink, name) for name in ("dead", "manager", "director")}
    d = Dispatcher(store, notifiers, poll=0.05)

    async def manager_paged() -> bool:
        return ("manager", "escalated", "delivered") in await rows(store, incident_id)

    await run_until(d, manager_paged)
    assert [(r.path, r.json()["event"], r.json()["level"]) for r in sink.requests] == [
        ("/dead", "triggered", 0),
        ("/manager", "escalated", 1),
    ]
    story = dict(await timeline(store, incident_id))
    assert "reached nobody" in story["unreached"] and "next level now" in story["unreached"]
    async with store.read() as conn:
        row = (await conn.execute(select(incidents).where(incidents.c.id == incident_id))).one()
    assert row.next_step == 2
    assert row.next_step_at == row.opened_at + timedelta(hours=2)  # the director's own time
    assert d.unreached == 1


async def test_no_early_escalation_when_someone_was_reached(store, sink):
    """One dead channel among two on a level does not escalate: the other reached someone."""
    sink.respond(404, "gone", path="/dead")
    incident_id = await page(store, ["dead", "ok"], ["manager"])
    d = Dispatcher(
        store,
        {"dead": hook(sink, "dead"), "ok": hook(sink, "ok"), "manager": hook(sink, "manager")},
        poll=0.05,
    )
    await run_until(d, settled(store, incident_id))
    async with store.read() as conn:
        due = (
            await conn.execute(
                select(incidents.c.next_step_at).where(incidents.c.id == incident_id)
            )
        ).scalar()
    assert due > datetime.now(UTC) + timedelta(minutes=50)
    assert "unreached" not in dict(await timeline(store, incident_id))


async def test_rate_limit_holds_extra_messages_without_counting_attempts(store, sink):
    """With rate_limit "2/1h", two pages go at once; the third waits its turn (pending, no
    attempt counted) instead of being sent or failing."""
    ids = [await page(store, ["ops"], key=f"db{i}") for i in range(3)]
    d = Dispatcher(store, {"ops": hook(sink, "ops", rate_limit="2/1h", max_age="2h")}, poll=0.05)

    async def two_delivered() -> bool:
        statuses = [(await rows(store, i))[0][2] for i in ids]
        return statuses.count("delivered") == 2 and d.deferred >= 1

    await run_until(d, two_delivered)
    assert len(sink.requests) == 2
    async with store.read() as conn:
        [held] = (await conn.execute(select(outbox).where(outbox.c.status == "pending"))).all()
    assert held.attempts == 0
    assert held.next_attempt_at > datetime.now(UTC) + timedelta(minutes=25)


async def test_circuit_breaker_stops_hammering_a_dead_endpoint(store, sink):
    """After two failures in a row the circuit opens: no more requests to the dead endpoint,
    not even retries; its pages fail over to the fallback, and the other channel flows."""
    sink.respond(503, "down", path="/dead")
    notifiers = {
        "dead": hook(
            sink, "dead", breaker_failures=2, breaker_cooldown="1h", max_age="10m", fallback="sms"
        ),
        "fast": hook(sink, "fast"),
        "sms": hook(sink, "sms"),
    }
    d = Dispatcher(store, notifiers, poll=0.05)
    ids: list[int] = []

    async def all_settled() -> bool:
        return all([await settled(store, i)() for i in ids])

    for batch in (range(1), range(1, 4)):  # the first page's two attempts open the circuit
        ids += [await page(store, ["dead", "fast"], key=f"db{i}") for i in batch]
        await run_until(d, all_settled)
    paths = [r.path for r in sink.requests]
    assert paths.count("/dead") == 2  # the two that opened the circuit; no retries, no more
    assert paths.count("/fast") == 4 and paths.count("/sms") == 4
    async with store.read() as conn:
        errors = (
            (await conn.execute(select(outbox.c.last_error).where(outbox.c.notifier == "dead")))
            .scalars()
            .all()
        )
    assert all("circuit open" in e for e in errors)


async def test_pages_carry_the_same_signed_ack_link_on_every_retry(store, sink):
    """With ack links on, a page's link names the daemon's public URL and stays identical
    across retries of that page."""
    sink.then(Reply(500, "boom"))
    incident_id = await page(store, ["ops"])
    settings = DaemonConfig(public_url="https://escalatord.example.org/")
    d = Dispatcher(
        store, {"ops": hook(sink, "ops")}, poll=0.05, links=AckLinks(store, lambda: settings)
    )
    await run_until(d, settled(store, incident_id))
    urls = [r.json()["incident"]["ack_url"] for r in sink.requests]
    assert len(urls) == 2 and urls[0] == urls[1]
    assert urls[0].startswith(f"https://escalatord.example.org/ack/{incident_id}.")
