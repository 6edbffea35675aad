"""Helpers for delivery tests: open an incident that pages at once, run a dispatcher."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from escalatord.config.model import PolicyConfig
from escalatord.core.planning import snapshot
from escalatord.core.rules import Decision
from escalatord.incidents import service
from escalatord.notify.dispatcher import Dispatcher
from escalatord.store.db import Store

DECISION = Decision(rules=("r",), severity="critical", policy="p", owner="", runbook="", steps=())


async def open_paged(
    store: Store,
    levels: list[dict[str, Any]],
    *,
    key: str = "db",
    decision: Decision = DECISION,
    now: datetime | None = None,
) -> int:
    """Open an incident for `key` under a policy of `levels` and enqueue what is due now."""
    now = now or datetime.now(UTC)
    policy = snapshot(PolicyConfig.model_validate({"name": "p", "level": levels}))
    async with store.write() as conn:
        incident_id, _ = await service.open_incident(
            conn,
            key=key,
            check=key,
            labels={},
            status="critical",
            summary="down",
            decision=decision,
            policy_snapshot=policy,
            now=now,
        )
        await service.fire_due_steps(conn, now)
    return incident_id


async def run_until(
    dispatcher: Dispatcher, done: Callable[[], Awaitable[bool]], within: float = 10.0
) -> None:
    """Run `dispatcher` until `done()` is true (fail after `within` s), then drain it."""
    task = asyncio.create_task(dispatcher.run())
    try:
        async with asyncio.timeout(within):
            while not await done():
                dispatcher.wake()
                await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await dispatcher.drain(5)
