"""The queue SQLite writers wait in for the one writer connection (store/db.py).

SQLAlchemy's pool gives up on a waiter after its timeout (`QueuePool limit of size 1 overflow
0 reached, connection timed out, timeout 30`): under load, state flushes, escalation ticks and
deliveries all failed that way and most states never reached the store (issue 17). Here a
write waits its turn first come, first served, so only the write whose turn it is asks the
pool. The wait is bounded by `timeout`, long enough that only a database holding its write
lock (another process, a hung disk) reaches it. A write inside a write of the same task would
wait for itself: it is refused at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from escalatord.errors import StoreError
from escalatord.store.health import WriteHealth

# How long a write may wait for its turn. Transactions are kept short (state flushes are cut
# into chunks, monitor/runner.py), so a wait this long means the database itself hangs.
TIMEOUT = 300.0


class WriteQueue:
    """Turns at the one writer, in arrival order. `waiting`: how many wait now (/metrics)."""

    def __init__(self, health: WriteHealth, timeout: float = TIMEOUT):
        self.health = health  # a wait that ran out counts as a failed write (/healthz)
        self.timeout = timeout
        self.waiting = 0
        self._lock = asyncio.Lock()  # FIFO: waiters are woken in the order they came
        self._owner: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def turn(self, where: str) -> AsyncIterator[None]:
        """Hold the writer's turn for the block; StoreError naming `where` if it never came."""
        if self._owner is not None and self._owner is asyncio.current_task():
            raise StoreError("store.write() inside store.write(): it would wait for itself")
        self.waiting += 1
        try:
            async with asyncio.timeout(self.timeout):
                await self._lock.acquire()
        except TimeoutError:
            self.health.failed(time.monotonic(), "a write waited too long for its turn")
            raise StoreError(
                f"a write to {where} waited {self.timeout:.0f} s for the writer connection: "
                "the database holds its write lock (another process, or a hung disk?)"
            ) from None
        finally:
            self.waiting -= 1
        self._owner = asyncio.current_task()
        try:
            yield
        finally:
            self._owner = None
            self._lock.release()
