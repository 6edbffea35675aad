"""SQLite writes under load queue for the one writer instead of timing out (issue 17)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, text

from escalatord.errors import StoreError
from escalatord.store import states as state_store
from escalatord.store.db import Store
from escalatord.store.tables import ack_keys

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


@pytest.fixture
async def sqlite_store(tmp_path):
    async with Store(f"sqlite:///{tmp_path}/escalatord.db") as store:
        # No patience at the pool: a write that asked for the busy connection would fail at
        # once, as `QueuePool limit ... timeout 30` did after 30 s under load.
        store._writer.pool._timeout = 0  # type: ignore[union-attr]
        yield store


async def _names(store: Store) -> list[str]:
    async with store.read() as conn:
        # rowid: the order the rows were inserted in
        rows = await conn.execute(select(ack_keys.c.name).order_by(text("rowid")))
        return list(rows.scalars())


async def test_writes_wait_their_turn_while_one_holds_the_writer(sqlite_store):
    """Twenty writes started while another holds the writer all commit, in the order they came."""
    store = sqlite_store
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with store.write() as conn:
            await conn.execute(insert(ack_keys).values(name="first", secret="s", created_at=NOW))
            holding.set()
            await release.wait()

    async def write(name: str) -> None:
        async with store.write() as conn:
            await conn.execute(insert(ack_keys).values(name=name, secret="s", created_at=NOW))

    holder = asyncio.create_task(hold())
    await holding.wait()
    writers = [asyncio.create_task(write(f"w{n:02}")) for n in range(20)]
    await asyncio.sleep(0)  # one loop pass: each writer runs up to its wait for the turn
    assert store.writes.waiting == 20
    release.set()
    await asyncio.gather(holder, *writers)
    assert await _names(store) == ["first", *(f"w{n:02}" for n in range(20))]
    assert store.writes.waiting == 0


async def test_a_write_inside_a_write_is_refused_at_once(sqlite_store):
    """A nested write raises a StoreError naming the mistake instead of waiting for itself."""
    async with sqlite_store.write():
        with pytest.raises(StoreError, match=r"inside store.write\(\)"):
            async with sqlite_store.write():
                pass


async def test_flushes_ticks_and_sends_together_all_reach_the_store(sqlite_store, monkeypatch):
    """A flush of many states beside a stream of other writes stores every state, no error."""
    from escalatord.core.state import CheckState
    from escalatord.monitor import runner

    monkeypatch.setattr(runner, "FLUSH_CHUNK", 100)  # several chunks, other writes between
    store = sqlite_store
    monitor = runner.Monitor.__new__(runner.Monitor)  # only the state-writing half is used
    monitor.store = store
    monitor.states = {f"c{n:04}": CheckState(last_summary=f"s{n}") for n in range(1_000)}
    monitor.extra = {}
    monitor._dirty = set(monitor.states)
    monitor._flushing = asyncio.Lock()

    async def other(n: int) -> None:  # a tick or a delivery: one small transaction each
        async with store.write() as conn:
            await conn.execute(insert(ack_keys).values(name=f"o{n}", secret="s", created_at=NOW))

    await asyncio.gather(monitor.flush(), *(other(n) for n in range(50)))
    async with store.read() as conn:
        stored = await state_store.load(conn)
    assert len(stored) == 1_000 and stored["c0999"][0].last_summary == "s999"
    assert len(await _names(store)) == 50
    assert not monitor._dirty


async def test_a_stop_during_a_flush_leaves_the_final_flush_able_to_write(sqlite_store):
    """Cancelling the flush loop mid-flush (a stop) lets that flush finish: the final flush
    then writes, and every state is stored."""
    from escalatord.core.state import CheckState
    from escalatord.monitor import runner

    store = sqlite_store
    monitor = runner.Monitor.__new__(runner.Monitor)  # only the state-writing half is used
    monitor.store = store
    monitor.states = {f"c{n:04}": CheckState(last_summary=f"s{n}") for n in range(5_000)}
    monitor.extra = {}
    monitor._dirty = set(monitor.states)
    monitor._flushing = asyncio.Lock()
    loop = asyncio.create_task(monitor.flush_loop(every=0))
    for _ in range(3):  # the loop's flush takes the writer in its first few loop passes
        await asyncio.sleep(0)
    assert store.writes._owner is not None or store.writes.waiting
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    await monitor.flush()  # the stop's final flush
    async with store.read() as conn:
        stored = await state_store.load(conn)
    assert len(stored) == 5_000
