"""The event loop the daemon and its probe workers run on.

uvloop (libuv; installed with uvicorn[standard] on Linux) when it is importable: it costs less
CPU per check than asyncio's default loop (bench/RESULTS.md, "Issue 6: the scenario suite, and
the first round of speed work", the uvloop paragraph). Set
`ESCALATORD_EVENT_LOOP=asyncio` to use the standard loop (e.g. to rule the loop out when
chasing a bug). Tests that run the App inside pytest use pytest-asyncio's standard loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None for asyncio's default."""
    if os.environ.get("ESCALATORD_EVENT_LOOP", "auto").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(coro: Awaitable[T]) -> T:
    """`asyncio.run(coro)` on the loop `loop_factory()` picks."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(coro)  # type: ignore[arg-type]
