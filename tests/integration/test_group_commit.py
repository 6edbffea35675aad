"""Transitions and delivery outcomes that arrive together share one write transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from escalatord.store.groupcommit import GroupCommit
from escalatord.store.tables import ack_keys

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


async def _insert(conn, name: str) -> str:
    if name.startswith("bad"):
        raise ValueError(f"refused {name}")
    await conn.execute(insert(ack_keys).values(name=name, secret="s", created_at=NOW))
    return name


async def _names(store) -> list[str]:
    async with store.read() as conn:
        return sorted((await conn.execute(select(ack_keys.c.name))).scalars())


async def test_changes_submitted_together_are_written_in_fewer_transactions(store):
    """Fifty changes submitted at once are all committed, in far fewer than fifty transactions."""
    writes = GroupCommit(store, _insert)
    results = await asyncio.gather(*(writes.submit(f"k{n:02}") for n in range(50)))
    assert results == [f"k{n:02}" for n in range(50)]
    assert await _names(store) == [f"k{n:02}" for n in range(50)]
    assert writes.transactions <= 3


async def test_one_failing_change_does_not_take_the_others_down(store):
    """When one change of a batch fails, only its submitter gets the error; the rest commit."""
    writes = GroupCommit(store, _insert)
    outcomes = await asyncio.gather(
        *(writes.submit(name) for name in ("a", "b", "bad-c", "d")), return_exceptions=True
    )
    assert outcomes[:2] == ["a", "b"] and outcomes[3] == "d"
    assert isinstance(outcomes[2], ValueError)
    assert await _names(store) == ["a", "b", "d"]


async def test_the_once_per_transaction_step_sees_every_change_of_it(store):
    """`after` runs inside each transaction, after all of its changes."""
    seen: list[int] = []

    async def after(conn, items) -> None:
        count = (await conn.execute(select(func.count()).select_from(ack_keys))).scalar()
        seen.append(count)
        if "late" in items:
            raise RuntimeError("after failed")

    writes = GroupCommit(store, _insert, after=after)
    await asyncio.gather(*(writes.submit(f"k{n}") for n in range(10)))
    assert seen[-1] == 10
    with pytest.raises(RuntimeError):
        await writes.submit("late")  # its own `after` fails: nothing of it is committed
    assert len(await _names(store)) == 10
