"""Group commit: changes submitted together are written in ONE write transaction.

    writes = GroupCommit(store, apply_one, after=fire_due)   # apply_one(conn, item) -> result
    result = await writes.submit(item)                       # returns once it is committed

Every transaction on the one writer connection costs a wait for the connection, a BEGIN and a
COMMIT, and each statement a hop to the database thread. When 100 incidents open at once, one
transaction each queues them behind each other; here the first submitter starts a writer task
and everything submitted until that task takes its batch (and, while it writes, the next
batch) shares a transaction. A lone submission is written at once: nothing waits for a batch
to fill.

Guarantees, the same as one transaction per change:
- `submit` returns only after the change is committed, and raises if it was not: a caller that
  keeps state in memory can undo it, as it would after its own failed transaction;
- items are applied in the order they were submitted;
- one bad item does not take others down: when a batch fails, each of its items is written
  again in a transaction of its own, and only the ones that still fail raise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.store.db import Store

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Writes submitted items in shared transactions; see the module docstring.

    `apply(conn, item)` writes one item and returns its result; `after(conn, items)`, if given,
    runs once per transaction after the items (e.g. work that is the same for all of them).
    """

    def __init__(
        self,
        store: Store,
        apply: Callable[[AsyncConnection, T], Awaitable[R]],
        *,
        after: Callable[[AsyncConnection, Sequence[T]], Awaitable[None]] | None = None,
        name: str = "group-commit",
    ):
        self.store = store
        self.apply = apply
        self.after = after
        self.name = name
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None
        self.transactions = 0  # for tests and benchmarks: how many batches were written

    async def submit(self, item: T) -> R:
        """Write `item`; return its result once committed, or raise what the write raised."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name=self.name)
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                batch = [(item, fut) for item, fut in batch if not fut.cancelled()]
                if not batch:
                    continue
                try:
                    results = await self._write([item for item, _ in batch])
                except Exception as exc:
                    if len(batch) == 1:
                        _settle(batch[0][1], exc=exc)
                    else:  # find the culprit: each item alone, in submission order
                        for item, fut in batch:
                            try:
                                (result,) = await self._write([item])
                            except Exception as one:
                                _settle(fut, exc=one)
                            else:
                                _settle(fut, result=result)
                else:
                    for (_, fut), result in zip(batch, results, strict=True):
                        _settle(fut, result=result)
                batch = []
        finally:
            self._task = None
            # Cancelled (shutdown): nobody may wait for ever on a batch that will not be written.
            for _, fut in (*batch, *self._queue):
                if not fut.done():
                    fut.cancel()
            self._queue = []

    async def _write(self, items: list[T]) -> list[R]:
        async with self.store.write() as conn:
            results = [await self.apply(conn, item) for item in items]
            if self.after is not None:
                await self.after(conn, items)
        self.transactions += 1
        return results


def _settle(future: asyncio.Future[R], *, result: R | None = None, exc: Exception | None = None):
    if future.done():  # its caller was cancelled meanwhile
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)  # type: ignore[arg-type]
