"""A cap on the connections `http` checks hold to one origin at once (issue 17).

Thousands of checks of one server (one path each, a common layout) used to open a connection
each whenever their runs came together: a saturated daemon held more than 4,096 to a single
origin, which looks like an attack to the server and costs both sides a socket each. Here a
request first takes one of `limit` slots of its origin (scheme, host, port); the others wait
their turn, first come first served. The wait is not the target's latency: checks start their
latency clock once they hold a slot. It is bounded by the check's timeout, like the rest of the
probe. Origins with nobody waiting or sending hold no memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager

PER_ORIGIN = 256  # requests in flight to one origin at once; idle keep-alive ones stay 64


class OriginLimit:
    """Slots per origin. One per process, shared by both request paths (check.py)."""

    def __init__(self, limit: int = PER_ORIGIN):
        self.limit = limit
        self._slots: dict[Hashable, tuple[asyncio.Semaphore, list[int]]] = {}
        self.most = 0  # the most requests in flight to one origin seen (tests, benchmarks)

    @asynccontextmanager
    async def slot(self, origin: Hashable) -> AsyncIterator[None]:
        """Hold one of `origin`'s slots for the block, waiting for one if all are taken."""
        entry = self._slots.get(origin)
        if entry is None:
            entry = self._slots[origin] = (asyncio.Semaphore(self.limit), [0])
        semaphore, users = entry
        users[0] += 1  # waiting or sending: the entry stays while anyone uses it
        try:
            async with semaphore:
                self.most = max(self.most, self.limit - semaphore._value)
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._slots[origin]
