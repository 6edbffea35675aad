"""The `nodes` table read and written for a cluster (issue 17, docs/cluster.md): who is live.

Each running daemon has a row (store/watch.py writes it every few seconds). In a cluster the
write also renews the node's lease: `lease_until` is set from the DATABASE's clock, so nodes
whose clocks differ still agree on whose lease has lapsed. `read()` returns the rows with the
database's time of reading, for `core/lease.py lapsed()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core.lease import lapsed
from escalatord.store.tables import nodes

# The database's clock as a UTC timestamp without zone, as UTCDateTime columns hold them.
_DB_NOW = "timezone('UTC', now())"


@dataclass(frozen=True)
class NodeRow:
    """One node's row: its name, this run's instance, its times and its config's hash."""

    name: str
    instance: str
    started_at: datetime
    seen_at: datetime
    lease_until: datetime | None
    config_hash: str | None
    behind_s: float | None = None  # how far behind schedule its checks run (None: unknown)
    overload: str | None = None  # its overload in words, None while it keeps up

    def live(self, now: datetime) -> bool:
        """Whether its lease holds at `now` (the database's clock)."""
        return not lapsed(self.lease_until, now)


def lease_expiry(conn: AsyncConnection, lease: float) -> Any:
    """What `lease_until` is set to by a renewal: the database's now + `lease` seconds
    (PostgreSQL; clusters run on nothing else)."""
    if conn.dialect.name != "postgresql":
        raise ValueError("a lease needs PostgreSQL")  # the loader refuses [cluster] on SQLite
    return literal_column(f"{_DB_NOW} + make_interval(secs => {float(lease)!r})")


async def database_now(conn: AsyncConnection) -> datetime:
    """The database's clock (UTC); on SQLite, this machine's."""
    if conn.dialect.name != "postgresql":
        return datetime.now(UTC)
    value = (await conn.execute(select(literal_column(_DB_NOW)))).scalar_one()
    return value.replace(tzinfo=UTC)


async def read(conn: AsyncConnection) -> tuple[datetime, list[NodeRow]]:
    """Every node's row, by name, and the database's time of reading."""
    now = await database_now(conn)
    rows = (await conn.execute(select(nodes).order_by(nodes.c.name))).all()
    return now, [
        NodeRow(
            name=r.name,
            instance=r.instance,
            started_at=r.started_at,
            seen_at=r.seen_at,
            lease_until=r.lease_until,
            config_hash=r.config_hash,
            behind_s=r.behind_s,
            overload=r.overload,
        )
        for r in rows
    ]


async def release(conn: AsyncConnection, node: str, instance: str) -> None:
    """Give up a node's lease now (a graceful stop): its checks move at once instead of after
    the lease lapses. Only this instance's lease: a newer run of the node keeps its own."""
    await conn.execute(
        update(nodes)
        .where(and_(nodes.c.name == node, nodes.c.instance == instance))
        .values(lease_until=None)
    )
