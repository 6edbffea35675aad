"""What feeds the store's write health, on SQLite and PostgreSQL: which transactions count as
a successful write, the node row written as a probe when nothing else is, and the claims a
restarted daemon takes back from its dead predecessor."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError

from escalatord.notify.dispatcher import Dispatcher
from escalatord.store import watch as watch_module
from escalatord.store.tables import check_states, nodes, outbox
from escalatord.store.watch import StoreWatch
from tests.support.app import eventually

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def state(name: str) -> dict[str, object]:
    return {"check": name, "status": "ok", "hard": 1, "attempts": 0, "last_summary": ""}


async def test_only_a_commit_that_changed_rows_counts_as_a_write(store) -> None:
    """A write transaction that reads, or changes nothing, proves nothing about the disk; one
    that changed rows does; a broken constraint is the caller's fault, not a store failure."""
    async with store.write() as conn:
        await conn.execute(select(check_states))
        await conn.execute(update(check_states).values(attempts=1))  # no rows match
    assert store.health.last_ok is None
    async with store.write() as conn:
        await conn.execute(insert(check_states).values(state("web")))
    assert store.health.last_ok is not None
    with pytest.raises(IntegrityError):
        async with store.write() as conn:
            await conn.execute(insert(check_states).values(state("web")))
    assert store.health.failures == 0
    assert await store.problems() == []


async def test_an_idle_daemon_still_writes_its_node_row(store, monkeypatch) -> None:
    """With nothing else to write, the watch writes this node's row every few seconds, so
    'no write succeeded for a while' measures the disk, not how busy the daemon is."""
    monkeypatch.setattr(watch_module, "PROBE_EVERY", 0.1)
    monkeypatch.setattr(watch_module, "FILE_EVERY", 0.02)
    watch = StoreWatch(store, node="host-a", instance="one")
    assert await watch.beat()
    first = store.health.last_ok
    task = asyncio.create_task(watch.run())
    try:
        await eventually(lambda: store.health.last_ok != first, what="a second beat")
    finally:
        task.cancel()
    async with store.read() as conn:
        [row] = (await conn.execute(select(nodes))).all()
    assert (row.name, row.instance) == ("host-a", "one")
    assert row.seen_at > row.started_at


async def claim_rows(store) -> None:
    """Rows as a crashed daemon left them: claimed by "dead", by "alive", backing off
    (unclaimed, due later) and a test-notify message (unclaimed: its CLI owns it)."""
    later = NOW + timedelta(seconds=32)
    rows = [("a", "dead", later), ("b", "alive", later), ("c", None, later), ("d", None, later)]
    async with store.write() as conn:
        await conn.execute(
            insert(outbox),
            [
                {
                    "key": key,
                    "notifier": "ops",
                    "event": "test" if key == "d" else "triggered",
                    "level": 0,
                    "payload": {},
                    "status": "pending",
                    "attempts": 0,
                    "created_at": NOW,
                    "next_attempt_at": at,
                    "claimed_by": owner,
                }
                for key, owner, at in rows
            ],
        )


async def test_take_back_makes_claims_of_owners_not_alive_due_now(store) -> None:
    """Claims whose owner is not alive are due at once and unclaimed; a live owner's claim,
    a row backing off and a test message keep their time."""
    await claim_rows(store)
    dispatcher = Dispatcher(store, {}, clock=lambda: NOW + timedelta(seconds=2), owner="alive")
    assert await dispatcher.take_back(alive={"alive"}) == 1
    async with store.read() as conn:
        found = {
            r.key: (r.claimed_by, r.next_attempt_at - NOW)
            for r in await conn.execute(select(outbox).order_by(outbox.c.key))
        }
    assert found == {
        "a": (None, timedelta(seconds=2)),
        "b": ("alive", timedelta(seconds=32)),
        "c": (None, timedelta(seconds=32)),
        "d": (None, timedelta(seconds=32)),
    }


async def test_a_write_cancelled_mid_statement_raises_the_cancellation(store) -> None:
    """A write cancelled while its statement runs (a SIGTERM during a tick) ends with the
    CancelledError, not an error from the invalidated connection that hid it and hung the
    daemon's shutdown."""
    slow = (
        "SELECT pg_sleep(2)"
        if store.dialect == "postgresql"
        else "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000)"
        " SELECT count(*) FROM c"
    )
    started = asyncio.Event()

    async def work() -> None:
        async with store.write() as conn:
            started.set()
            await conn.execute(text(slow))

    task = asyncio.create_task(work())
    await started.wait()
    await asyncio.sleep(0.01)  # inside the statement, which runs for a second or more
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
