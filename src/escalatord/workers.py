"""Small thread pools of their own for blocking work (SMTP, Apprise, directory scans).

`asyncio.to_thread` uses the loop's one default executor, shared by everything: a `stat()`
hung on a dead NFS mount keeps its thread after the check's timeout, and enough of them
starve every other user of that executor (mail delivery among them). A `WorkerPool` gives a
component its own bounded set of threads, so what hangs there stays there.

The executor is created on first use (inside the running daemon, not at import or config
time) and shut down by `close()`; a pool used again after `close()` starts a new executor.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class WorkerPool:
    """At most `workers` threads named `<name>_N`; jobs beyond that wait their turn."""

    def __init__(self, name: str, workers: int):
        self.name = name
        self.workers = workers
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    def submit(self, fn: Callable[..., T], /, *args: Any) -> concurrent.futures.Future[T]:
        """Start `fn(*args)` in the pool, with the caller's context variables (log binds)."""
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=self.workers, thread_name_prefix=self.name
            )
        context = contextvars.copy_context()
        return self._executor.submit(functools.partial(context.run, fn, *args))

    async def run(self, fn: Callable[..., T], /, *args: Any) -> T:
        """`fn(*args)` in the pool, awaited. Cancelling the wait cancels a job still queued;
        a job already running finishes in its thread (threads cannot be interrupted)."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def close(self) -> None:
        """Drop queued jobs and let the threads end; does not wait for a hung one."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
