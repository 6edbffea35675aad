"""A server's absurd Retry-After (twenty digits, a date in the year 9999) must not stall
delivery: the wait is capped at an hour, so the page goes to the fallback at max_age or is
retried an hour later. Real webhook sinks on loopback, SQLite and PostgreSQL stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from escalatord.core.rules import Decision
from escalatord.notify.dispatcher import Dispatcher
from escalatord.notify.http import MAX_RETRY_AFTER
from escalatord.notify.webhook import WebhookNotifier
from escalatord.store.tables import outbox
from tests.support.http_target import HttpTarget
from tests.support.outbox import open_paged, run_until

DECISION = Decision(rules=("r",), severity="critical", policy="p", owner="", runbook="", steps=())
HUGE = ["99999999999999999999", "9" * 400, "Fri, 31 Dec 9999 23:59:59 GMT"]


@pytest.fixture
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        s.respond(200, "ok")
        yield s


def hook(sink: HttpTarget, name: str, **keys: str) -> WebhookNotifier:
    config = {"name": name, "type": "webhook", "url": sink.url(f"/{name}"), "timeout": "1s"}
    return WebhookNotifier(WebhookNotifier.Config.model_validate({**config, **keys}))


async def page(store, notifier: str) -> int:
    """Open an incident whose policy pages `notifier` at once."""
    return await open_paged(store, [{"after": "0s", "notify": [notifier]}])


async def rows(store, incident_id: int) -> list[tuple]:
    async with store.read() as conn:
        result = await conn.execute(
            select(outbox.c.notifier, outbox.c.status, outbox.c.next_attempt_at)
            .where(outbox.c.incident_id == incident_id)
            .order_by(outbox.c.id)
        )
        return [tuple(r) for r in result]


@pytest.mark.parametrize("retry_after", HUGE)
async def test_huge_retry_after_sends_the_page_to_the_fallback(store, sink, retry_after):
    """503 with an absurd Retry-After on a notifier with max_age 1m: the page is not stuck
    pending, it goes to the fallback, which delivers it."""
    sink.respond(503, "busy", path="/chat", headers={"Retry-After": retry_after})
    incident_id = await page(store, "chat")
    notifiers = {"chat": hook(sink, "chat", max_age="1m", fallback="sms"), "sms": hook(sink, "sms")}
    dispatcher = Dispatcher(store, notifiers, poll=0.05)

    async def delivered_by_fallback() -> bool:
        return [(n, s) for n, s, _ in await rows(store, incident_id)] == [
            ("chat", "failed"),
            ("sms", "delivered"),
        ]

    await run_until(dispatcher, delivered_by_fallback)
    assert [r.path for r in sink.requests] == ["/chat", "/sms"]


async def test_huge_retry_after_is_retried_within_the_hour(store, sink):
    """With a max_age longer than the cap, the page stays queued and its next attempt is
    planned at most an hour away, not in the year 9999."""
    sink.respond(503, "busy", path="/chat", headers={"Retry-After": HUGE[2]})
    incident_id = await page(store, "chat")
    dispatcher = Dispatcher(store, {"chat": hook(sink, "chat", max_age="2h")}, poll=0.05)
    before = datetime.now(UTC)

    async def retry_planned() -> bool:
        return bool(sink.requests) and (await rows(store, incident_id))[0][2] > before

    await run_until(dispatcher, retry_planned)
    [(name, status, next_at)] = await rows(store, incident_id)
    next_at = next_at if next_at.tzinfo else next_at.replace(tzinfo=UTC)  # SQLite is naive
    assert (name, status) == ("chat", "pending")
    assert next_at <= datetime.now(UTC) + timedelta(seconds=MAX_RETRY_AFTER)
    assert next_at >= before + timedelta(seconds=MAX_RETRY_AFTER - 60)
