"""The daemon's watch over its store: a write every few seconds, the file compared with the
one opened, and a log line whenever writing breaks or recovers.

    watch = StoreWatch(store, node="host", instance=uuid4().hex)
    await watch.beat()          # at start: the node's row, the first write
    task = asyncio.create_task(watch.run())

In a cluster (`lease` given, PostgreSQL) each beat also renews the node's lease, and the
cluster's loop (monitor/cluster.py) beats on its own schedule instead of `run()`.

The verdict itself is `store.health` (store/health.py), read by /healthz, /metrics and the
systemd watchdog (daemon.py); this loop only feeds it and says when it changes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from escalatord.store import upsert
from escalatord.store.db import Store
from escalatord.store.health import PROBE_EVERY
from escalatord.store.nodes import lease_expiry
from escalatord.store.tables import nodes

log = structlog.get_logger("escalatord.store")

FILE_EVERY = 1.0  # the SQLite file is compared with the opened one this often (one stat)


class StoreWatch:
    """Feeds `store.health` while the daemon runs; `node` names this node's row and
    `instance` this run of the daemon (outbox claims carry it). `config_hash` is written into
    the row (nodes compare theirs); `lease` (seconds, a cluster only) makes each beat renew
    the node's lease until the database's now + `lease`."""

    def __init__(
        self,
        store: Store,
        *,
        node: str,
        instance: str,
        clock: Callable[[], datetime] | None = None,
        config_hash: str | None = None,
        lease: float | None = None,
    ):
        self.store = store
        self.config_hash = config_hash
        self.lease = lease
        self.node = node
        self.instance = instance
        self.clock = clock or (lambda: datetime.now(UTC))
        self.started_at = self.clock()
        # How far behind this node runs and its overload in words (None: keeping up), written
        # with each beat (monitor/cluster.py `join` sets it from the Monitor's overload).
        self.load: Callable[[], tuple[float, str | None]] | None = None
        self._reported: list[str] = []

    async def beat(self) -> bool:
        """Write this node's row (instance, seen_at, config hash; the lease in a cluster): the
        write probe. False when it failed (the failure is in `store.health`)."""
        now = self.clock()
        try:
            async with self.store.write() as conn:
                values: dict[str, object] = {
                    "name": self.node,
                    "instance": self.instance,
                    "started_at": self.started_at,
                    "seen_at": now,
                    "config_hash": self.config_hash,
                }
                if self.lease is not None:
                    values["lease_until"] = lease_expiry(conn, self.lease)
                if self.load is not None:
                    values["behind_s"], values["overload"] = self.load()
                stmt = upsert.insert(conn, nodes).values(**values)
                await conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[nodes.c.name],
                        set_={k: stmt.excluded[k] for k in values if k != "name"},
                    )
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # recorded by store.write(); reported by run()
            log.debug("store_beat_failed", error=type(exc).__name__)
            return False
        return True

    async def run(self) -> None:
        """Loop until cancelled: the file every FILE_EVERY, a beat every PROBE_EVERY seconds."""
        next_beat = time.monotonic() + PROBE_EVERY
        while True:
            await asyncio.sleep(FILE_EVERY)
            self.store.check_file()
            if time.monotonic() >= next_beat:
                await self.beat()
                next_beat = time.monotonic() + PROBE_EVERY
            self.report()

    def report(self) -> None:
        """Log when writing goes wrong (an error naming why) or recovers."""
        now = time.monotonic()
        causes = self.store.health.causes(now)
        if causes == self._reported:  # the ages in the texts change every second; causes not
            return
        self._reported = causes
        if causes:
            log.error(
                "store_unwritable",
                database=self.store.masked_url,
                problems=self.store.health.problems(now),
                hint="/healthz answers 503 until this is fixed; see docs/systemd.md",
            )
        else:
            log.info("store_writable_again", database=self.store.masked_url)
