"""Races between the daemon's loops, the CLI and slow endpoints, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from escalatord.checks.base import Check, CheckConfig
from escalatord.config.loader import load_text
from escalatord.core.status import Judged, Result, Status
from escalatord.errors import InvalidTransition
from escalatord.escalation.engine import Engine
from escalatord.incidents import service
from escalatord.incidents.pages import acknowledge_by_link, nobody_reached
from escalatord.monitor.runner import Monitor
from escalatord.notify import dispatcher as dispatch_module
from escalatord.notify.dispatcher import Dispatcher
from escalatord.notify.webhook import WebhookNotifier
from escalatord.store.db import Store
from escalatord.store.tables import incidents, outbox
from tests.support.http_target import HttpTarget
from tests.support.outbox import open_paged

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def ladder(*afters: str) -> list[dict]:
    return [{"after": a, "notify": [f"level{i}"]} for i, a in enumerate(afters)]


@pytest.fixture
def slow_sink() -> Iterator[HttpTarget]:
    with HttpTarget() as sink:
        sink.respond(200, "ok", delay=0.3)
        yield sink


async def test_a_slow_notifier_never_gets_a_page_twice(store, slow_sink, monkeypatch):
    """With more pages queued than send slots, each page is sent once even past its lease."""
    monkeypatch.setattr(dispatch_module, "PER_NOTIFIER", 2)
    monkeypatch.setattr(dispatch_module, "LEASE_SLACK", 0.0)  # lease = the 1 s timeout
    hook = WebhookNotifier(
        WebhookNotifier.Config.model_validate(
            {"name": "level0", "type": "webhook", "url": slow_sink.url("/h"), "timeout": "1s"}
        )
    )
    now = datetime.now(UTC)
    for n in range(12):
        await open_paged(store, ladder("0s"), key=f"svc-{n}", now=now)
    dispatcher = Dispatcher(store, {"level0": hook}, poll=0.05)
    task = asyncio.create_task(dispatcher.run())
    try:
        async with asyncio.timeout(20):
            while len(slow_sink.requests) < 12:  # noqa: ASYNC110 - a threaded server
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.5)  # leases of anything still queued would have run out
    finally:
        task.cancel()
        await dispatcher.drain(5)
        await hook.close()
    keys = [r.headers["Idempotency-Key"] for r in slow_sink.requests]
    assert len(keys) == 12 and len(set(keys)) == 12


async def test_an_ack_racing_a_resolve_waits_and_is_refused(store_url):
    """An ack that starts while a resolve is being written sees it resolved, never reopens it."""
    async with Store(store_url) as daemon, Store(store_url) as cli:
        incident_id = await open_paged(daemon, ladder("0s"), key="db", now=T0)
        resolving = asyncio.Event()
        release = asyncio.Event()

        async def resolve() -> None:
            async with daemon.write() as conn:
                await service.resolve(conn, incident_id, by="recovery", now=T0)
                resolving.set()
                await release.wait()  # hold the transaction open while the ack arrives

        async def ack() -> None:
            await resolving.wait()
            async with cli.write() as conn:
                await service.acknowledge(conn, incident_id, by="alice", now=T0)

        resolver = asyncio.create_task(resolve())
        acker = asyncio.create_task(ack())
        await resolving.wait()
        await asyncio.sleep(0.3)  # the ack is now waiting for the resolve's lock
        release.set()
        await resolver
        with pytest.raises(InvalidTransition, match="resolved"):
            await acker
        async with cli.read() as conn:
            row = await service.get(conn, incident_id)
        assert (row.status, row.open_key, row.acknowledged_by) == ("resolved", None, None)


async def test_a_late_failure_of_an_old_page_does_not_skip_a_level(store):
    """A level-0 page failing after level 1 went out does not page level 2 early."""
    incident_id = await open_paged(store, ladder("0m", "10m", "20m"), key="db", now=T0)
    async with store.write() as conn:
        await service.fire_due_steps(conn, T0 + timedelta(minutes=10))
        first = (
            (
                await conn.execute(
                    select(outbox.c.key)
                    .where(outbox.c.incident_id == incident_id)
                    .order_by(outbox.c.id)
                )
            )
            .scalars()
            .all()
        )
        await conn.execute(update(outbox).values(status="failed"))
        escalated = await nobody_reached(
            conn, incident_id, first[0], now=T0 + timedelta(minutes=15), error="gone"
        )
        row = await service.get(conn, incident_id)
        count = len((await conn.execute(select(outbox.c.id))).all())
    assert not escalated
    assert count == 2  # level 0 and level 1 only; level 2 still waits for 09:20
    assert row.next_step == 2 and row.next_step_at == T0 + timedelta(minutes=20)


class Passive(Check):
    """A passive check whose evaluation can be held mid-way by the test."""

    kind = "passive"

    def __init__(self, config: CheckConfig, gate: asyncio.Event):
        super().__init__(config, None)  # type: ignore[arg-type]
        self.gate = gate

    async def probe(self) -> Result:
        return Result(Status.OK, "unused")

    async def evaluate(self, _store, now):
        await self.gate.wait()  # the signals were read; the verdict is not applied yet
        return Judged((Result(Status.CRITICAL, "late", at=now), self.config))


async def test_a_ping_during_an_evaluation_is_applied_after_it(store, tmp_path):
    """A heartbeat that arrives while an older evaluation is pending ends up as the state."""
    config = load_text(f'[daemon]\ndatabase = "sqlite:///{tmp_path}/x.db"\n', env={})
    engine = Engine(store, config, wake=lambda: None)
    gate = asyncio.Event()
    check = Passive(CheckConfig(name="feed", type="passive", retries=1), gate)
    monitor = Monitor(store, engine, {"feed": check})
    evaluation = asyncio.create_task(monitor.run_check("feed"))
    await asyncio.sleep(0.05)
    ping = asyncio.create_task(
        monitor.on_passive("feed", (Result(Status.OK, "ping", at=datetime.now(UTC)), check.config))
    )
    await asyncio.sleep(0.05)
    gate.set()
    await asyncio.gather(evaluation, ping)
    assert monitor.states["feed"].status is Status.OK
    assert monitor.states["feed"].last_summary == "ping"


class Polled(Check):
    """A polled check whose probe the test holds until it says what the probe saw."""

    def __init__(self, config: CheckConfig, gate: asyncio.Event, seen: Status):
        super().__init__(config, None)  # type: ignore[arg-type]
        self.gate, self.seen = gate, seen

    async def probe(self) -> Result:
        await self.gate.wait()  # the agent answered before the trap; the answer is late
        return Result(self.seen, f"poll saw {self.seen}")


async def _trap_during_poll(store, tmp_path, seen: Status, trap: Status | None) -> Monitor:
    config = load_text(f'[daemon]\ndatabase = "sqlite:///{tmp_path}/x.db"\n', env={})
    gate = asyncio.Event()
    check = Polled(CheckConfig(name="uplink", type="polled", retries=1), gate, seen)
    monitor = Monitor(store, Engine(store, config, wake=lambda: None), {"uplink": check})
    poll = asyncio.create_task(monitor.run_check("uplink"))
    await asyncio.sleep(0.05)
    if trap is not None:
        fed = Result(trap, f"trap says {trap}", at=datetime.now(UTC))
        await monitor.on_passive("uplink", (fed, check.config))
    gate.set()
    await poll
    return monitor


@pytest.mark.parametrize(
    ("seen", "trap"), [(Status.OK, Status.CRITICAL), (Status.CRITICAL, Status.OK)]
)
async def test_a_trap_during_a_poll_is_not_undone_by_it(store, tmp_path, seen, trap):
    """A linkDown (or linkUp) trap that arrives while a poll of the port is in flight stays
    the check's state: the poll's answer may predate the trap and is dropped."""
    monitor = await _trap_during_poll(store, tmp_path, seen, trap)
    assert monitor.states["uplink"].status is trap
    assert monitor.states["uplink"].last_summary == f"trap says {trap}"


async def test_a_poll_without_a_trap_meanwhile_is_applied(store, tmp_path):
    """Without a trap during it, a poll's answer is the check's new state as always."""
    monitor = await _trap_during_poll(store, tmp_path, Status.CRITICAL, None)
    assert monitor.states["uplink"].status is Status.CRITICAL
    assert monitor.states["uplink"].last_summary == "poll saw critical"


async def test_a_check_disabled_and_enabled_again_still_resolves(store, tmp_path):
    """State survives a reload that drops a check, so its recovery resolves its incident."""
    body = (
        f'[daemon]\ndatabase = "sqlite:///{tmp_path}/x.db"\n'
        + """
[[rule]]
name = "all"
"""
    )
    config = load_text(body, env={})
    engine = Engine(store, config, wake=lambda: None)
    check = Passive(CheckConfig(name="svc", type="passive", retries=1), asyncio.Event())
    monitor = Monitor(store, engine, {"svc": check})
    await monitor.on_result("svc", Result(Status.CRITICAL, "down", at=datetime.now(UTC)))
    monitor.replace_checks({})
    monitor.replace_checks({"svc": check})
    await monitor.on_result("svc", Result(Status.OK, "up", at=datetime.now(UTC)))
    async with store.read() as conn:
        states = [r.status for r in await conn.execute(select(incidents.c.status))]
    assert states == ["resolved"]


async def test_two_clicks_on_one_ack_link_ack_once(store_url):
    """Two simultaneous uses of one ack link: one acknowledges, the other is told it was used."""
    async with Store(store_url) as one, Store(store_url) as two:
        incident_id = await open_paged(one, ladder("0s"), key="db", now=T0)
        async with one.read() as conn:
            page_id = (await conn.execute(select(outbox.c.id))).scalar()

        async def click(store: Store, name: str):
            async with store.write() as conn:
                return await acknowledge_by_link(
                    conn, incident_id, page_id, "token-1", now=T0, name=name
                )

        outcomes = await asyncio.gather(
            click(one, "alice"), click(two, "bob"), return_exceptions=True
        )
    acked = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, InvalidTransition)]
    assert len(acked) == 1 and len(refused) == 1, outcomes
