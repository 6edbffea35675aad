"""Results a node of a cluster received for a check another node owns (SNMP traps), kept in the
store for the owner: the receiving node `hand_on`s them, the owner `claim`s them at its
catch-up round (monitor/handover.py `catch_up`) and applies them in time order.

A trap goes to whichever node the device sends it to; only the node owning the check it sets
judges it (docs/cluster.md). Heartbeat pings and satellite batches have stores of their own.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core.state import Settings
from escalatord.core.status import Result, Status
from escalatord.store.db import Store
from escalatord.store.tables import relayed_results

# Rows no owner claimed for this long are dropped: their check left the config. An owner
# claims its rows every renew_every seconds, so only such orphans ever get this old.
ORPHANED_AFTER = timedelta(minutes=10)


async def hand_on(
    store: Store, check: str, result: Result, params: Settings, now: datetime
) -> None:
    """Keep `result` (with the state-machine settings it counts with) for `check`'s owner."""
    async with store.write() as conn:
        await conn.execute(
            relayed_results.insert().values(
                check=check,
                status=result.status.value,
                summary=result.summary,
                measurements=result.measurements,
                at=result.at or now,
                received_at=now,
                retries=params.retries,
                recover_after=params.recover_after,
                interval_s=params.interval.total_seconds(),
                retry_interval_s=params.retry_interval.total_seconds(),
            )
        )


async def claim(
    conn: AsyncConnection, checks: Collection[str], now: datetime
) -> tuple[list[tuple[str, Result, Settings]], int]:
    """The kept results of `checks`, oldest first, deleted as they are read (in a write
    transaction: two nodes that both believe they own a check never both apply one row); and
    how many orphans (kept before `now - ORPHANED_AFTER`, of any check) were dropped."""
    found: list[tuple[datetime, int, str, Result, Settings]] = []
    if checks:
        stmt = (
            delete(relayed_results)
            .where(relayed_results.c.check.in_(sorted(checks)))
            .returning(*relayed_results.c)
        )
        for row in await conn.execute(stmt):
            result = Result(
                Status(row.status), row.summary, dict(row.measurements or {}), at=row.at
            )
            params = Settings(
                retries=row.retries,
                recover_after=row.recover_after,
                interval=timedelta(seconds=row.interval_s),
                retry_interval=timedelta(seconds=row.retry_interval_s),
            )
            found.append((row.at, row.id, row.check, result, params))
    orphans = delete(relayed_results).where(relayed_results.c.received_at < now - ORPHANED_AFTER)
    dropped = (await conn.execute(orphans)).rowcount or 0
    return [(check, result, params) for _, _, check, result, params in sorted(found)], dropped
