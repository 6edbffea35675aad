"""Guaranteed delivery from the durable outbox, done once for every notifier type.

Every notification is an outbox row before any attempt. The dispatcher claims due rows by
pushing their `next_attempt_at` one lease ahead and writing its `owner` (this run's instance)
into `claimed_by`, so two nodes never send one row at the same time, and sends each in its own
task with a timeout. A slow or dead notifier only occupies its own tasks. A crash mid-send
leaves the claim behind: the next start takes back claims whose owner is not alive (`take_back`)
and sends them at once, at least once; otherwise they are retried when the lease runs out.

For each row:
- a page for an incident that is no longer triggered is muted, not sent;
- the notifier's gate (core/gate.py: rate limit, circuit breaker, a server's Retry-After)
  may postpone it without counting an attempt;
- a page gets its signed ack link (notify/links.py), the same on every retry;
- a failed attempt is retried with exponential backoff and jitter (at least as long as the
  server's Retry-After) until the row is `max_age` old;
- a permanent failure or an exhausted retry is recorded on the incident timeline, counted,
  and a page goes on to the notifier's `fallback`. When a page has no fallback left and no
  other page of its step reached anyone, the next level is paged at once
  (`incidents.pages.nobody_reached`).

This module holds the loop and the claiming of rows (slots per notifier, leases); sending one
row is in delivery.py, recording what became of it in outcomes.py.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, insert, select, update

from escalatord.core.events import Event, IncidentView
from escalatord.core.gate import Gate
from escalatord.incidents.ladder import Resolver
from escalatord.notify.base import Notifier
from escalatord.notify.delivery import Delivery
from escalatord.notify.links import AckLinks
from escalatord.notify.outcomes import Outcome
from escalatord.store.db import Store
from escalatord.store.groupcommit import GroupCommit
from escalatord.store.tables import incidents, outbox

log = structlog.get_logger("escalatord.dispatcher")

LEASE_SLACK = 30.0  # a claimed row is retried this long after its send timeout if we die
PER_NOTIFIER = 8  # sends in flight per notifier


class Dispatcher(Delivery):
    """Sends what the outbox holds. `wake()` after enqueueing to skip the poll delay.

    `links` makes the ack links in pages; without it pages carry none (`ack_url` null).
    `resolver` resolves a level's names when a page reached nobody (incidents/ladder.py).
    Counters for metrics: `sent`, `failed`, `fallbacks`, `unreached`, `deferred`, and
    `outcomes[(notifier, outcome)]`.
    """

    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        *,
        poll: float = 1.0,
        clock: Callable[[], datetime] | None = None,
        links: AckLinks | None = None,
        owner: str | None = None,
        resolver: Resolver | None = None,
    ):
        self.store = store
        # Resolves the names of the level paged when a page reached nobody (the engine's,
        # from the current config); without it every name is taken for a notifier.
        self.resolver = resolver
        self.owner = owner  # written into the claims (`claimed_by`) of this run
        self.notifiers = dict(notifiers)
        self.poll = poll
        self.clock = clock or (lambda: datetime.now(UTC))
        self.links = links
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: Counter[str] = Counter()  # sends in flight, by notifier
        self._inflight: set[int] = set()  # outbox ids being sent
        self._gates: dict[str, tuple[tuple[Any, ...], Gate]] = {}
        self.sent = 0
        self.failed = 0
        self.fallbacks = 0
        self.unreached = 0
        self.deferred = 0
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self._finishes: GroupCommit[Outcome, tuple[str | None, bool]] = GroupCommit(
            store, self._record, name="dispatcher-outcomes"
        )
        # Whether this node may claim rows: False while a node of a cluster does not hold
        # its lease (monitor/cluster.py): the live nodes send, and take back its claims.
        self.active: Callable[[], bool] = lambda: True

    def wake(self) -> None:
        self._wake.set()

    def replace_notifiers(self, notifiers: Mapping[str, Notifier]) -> None:
        """Used by reload: rows for a removed notifier fail with a clear error."""
        self.notifiers = dict(notifiers)

    async def run(self) -> None:
        """Loop until cancelled."""
        while True:
            # Cleared BEFORE the claim: a wake-up that lands while it waits for the writer
            # (rows committed after its SELECT) starts the next claim at once instead of being
            # cleared away and left to the poll.
            self._wake.clear()
            try:
                await self.dispatch_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the store was briefly unavailable: keep going
                log.exception("dispatch_failed")
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that lands
            # as the event is set, and the loop would then never stop.
            try:
                async with asyncio.timeout(self.poll):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def dispatch_once(self) -> int:
        """Claim due rows that a notifier has room for and start sending them; returns how
        many were started.

        A row is claimed only when its notifier has a free send slot, so a claimed row is
        sent at once and its lease covers the send alone: a slow notifier's backlog stays
        pending in the outbox instead of outliving leases while it waits (and being sent
        twice).
        """
        if not self.active():
            return 0
        now = self.clock()
        full = [name for name, busy in self._busy.items() if busy >= PER_NOTIFIER]
        claimed: list[Any] = []
        async with self.store.write() as conn:
            # The incident's status comes with the row (a subquery: FOR UPDATE locks only the
            # outbox rows), so a page for an acknowledged incident is muted without a read of
            # its own before the send.
            status = (
                select(incidents.c.status)
                .where(incidents.c.id == outbox.c.incident_id)
                .scalar_subquery()
                .label("incident_status")
            )
            stmt = (
                select(outbox, status)
                .where(and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now))
                .order_by(outbox.c.id)
                .limit(200)
            )
            if full:
                stmt = stmt.where(outbox.c.notifier.not_in(full))
            if self._inflight:
                stmt = stmt.where(outbox.c.id.not_in(self._inflight))
            leased: dict[str, list[int]] = {}
            for row in (await conn.execute(self.store.for_update(stmt))).all():
                if self._busy[row.notifier] >= PER_NOTIFIER:
                    continue
                self._busy[row.notifier] += 1
                self._inflight.add(row.id)
                claimed.append(row)
                leased.setdefault(row.notifier, []).append(row.id)
            for name, ids in leased.items():  # one UPDATE per notifier, not one per row
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.id.in_(ids))
                    .values(next_attempt_at=self._lease(now, name), claimed_by=self.owner)
                )
        for row in claimed:
            task = asyncio.create_task(self._deliver(row))
            self._tasks.add(task)
            task.add_done_callback(lambda t, r=row: self._released(t, r))
        return len(claimed)

    def _released(self, task: asyncio.Task[None], row: Any) -> None:
        self._tasks.discard(task)
        was_full = self._busy[row.notifier] >= PER_NOTIFIER
        self._busy[row.notifier] -= 1
        self._inflight.discard(row.id)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "deliver_failed",
                notifier=row.notifier,
                outbox=row.id,
                error=type(task.exception()).__name__,
            )
        if was_full:
            # A slot is free: rows held back for it can go now. Rows are only ever held back
            # while their notifier is full, so other releases need no claim of their own (in a
            # storm that was one more write transaction per page).
            self.wake()

    async def take_back(self, alive: Collection[str]) -> int:
        """Make rows claimed by an owner not in `alive` due now; returns how many.

        Called at start, before the first claim. A single node (SQLite, or PostgreSQL without
        a cluster) passes its own instance: every other claim is its dead predecessor's, whose
        send was cut short, so it goes out now instead of when its lease runs out (the
        receiver may get it twice, with the same Idempotency-Key: at least once). A node of a
        cluster passes the instances of the nodes whose lease holds, at start and whenever a
        node's lease lapses (monitor/cluster.py).
        """
        now = self.clock()
        async with self.store.write() as conn:
            taken = await conn.execute(
                update(outbox)
                .where(
                    and_(
                        outbox.c.status == "pending",
                        outbox.c.claimed_by.is_not(None),
                        outbox.c.claimed_by.not_in(list(alive)),
                    )
                )
                .values(next_attempt_at=now, claimed_by=None)
            )
        if taken.rowcount:
            log.info("claims_taken_back", rows=taken.rowcount)
        return taken.rowcount

    def _lease(self, now: datetime, name: str) -> datetime:
        notifier = self.notifiers.get(name)
        timeout = notifier.config.timeout.total_seconds() if notifier else 0
        return now + timedelta(seconds=timeout + LEASE_SLACK)

    async def drain(self, grace: float) -> None:
        """Wait for sends in flight (shutdown); what does not finish is retried after restart."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)

    async def send_test(self, name: str, incident: IncidentView) -> tuple[str, str | None]:
        """Put a `test` message for notifier `name` in the outbox and deliver it once, now,
        through the same path as every page. Returns (status, error): ("delivered", None) or
        ("failed", why). A test is never retried later nor sent to a fallback."""
        now = self.clock()
        key = f"test:{name}:{now.timestamp():.6f}"
        async with self.store.write() as conn:
            await conn.execute(
                insert(outbox).values(
                    key=key,
                    incident_id=None,
                    notifier=name,
                    event=str(Event.TEST),
                    level=0,
                    payload=incident.to_json(),
                    status="pending",
                    attempts=0,
                    created_at=now,
                    # Leased from the start: a daemon sharing the database leaves it to us.
                    next_attempt_at=self._lease(now, name),
                )
            )
            row = (await conn.execute(select(outbox).where(outbox.c.key == key))).one()
        notifier = self.notifiers.get(name)
        if notifier is None:
            error = f"notifier {name!r} is not configured"
        else:
            failure = await self._attempt(row, notifier)
            error = None if failure is None else str(failure)
        await self._finish(row, "delivered" if error is None else "failed", error)
        return ("delivered", None) if error is None else ("failed", error)
