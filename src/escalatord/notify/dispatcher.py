"""Delivery from the durable outbox: retry with backoff and jitter, mute, record, give up.

Every notification is an outbox row before any attempt. The dispatcher claims due rows by
pushing their `next_attempt_at` one lease ahead (so a crash mid-send retries after the lease,
at least once, and two nodes never send one row at the same time), sends each in its own task
with a timeout, and writes the outcome and a timeline entry. A slow or dead notifier only
occupies its own tasks: other channels keep flowing.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, select, update

from escalatord.errors import NotifyError
from escalatord.incidents.service import add_timeline
from escalatord.notify.base import Event, IncidentView, Notification, Notifier
from escalatord.store.db import Store
from escalatord.store.tables import incidents, outbox

log = structlog.get_logger("escalatord.dispatcher")

BACKOFF_BASE = 1.0  # seconds before the first retry (before jitter)
BACKOFF_CAP = 300.0  # never wait longer than this between attempts
LEASE_SLACK = 30.0  # a claimed row is retried this long after its send timeout if we die
PER_NOTIFIER = 8  # sends in flight per notifier


def backoff(attempts: int, rng: Callable[[float, float], float] = random.uniform) -> float:
    """Seconds before attempt `attempts + 1`: exponential, capped, with ±50% jitter."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return delay * rng(0.5, 1.5)


class Dispatcher:
    """Sends what the outbox holds. `wake()` after enqueueing to skip the poll delay."""

    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        *,
        poll: float = 1.0,
        clock: Callable[[], datetime] | None = None,
    ):
        self.store = store
        self.notifiers = dict(notifiers)
        self.poll = poll
        self.clock = clock or (lambda: datetime.now(UTC))
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._limits: dict[str, asyncio.Semaphore] = {}
        self.sent = 0
        self.failed = 0

    def wake(self) -> None:
        self._wake.set()

    def replace_notifiers(self, notifiers: Mapping[str, Notifier]) -> None:
        """Used by reload: rows for a removed notifier fail with a clear error."""
        self.notifiers = dict(notifiers)

    async def run(self) -> None:
        """Loop until cancelled."""
        while True:
            try:
                await self.dispatch_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the store was briefly unavailable: keep going
                log.exception("dispatch_failed")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll)
            except TimeoutError:
                pass

    async def dispatch_once(self) -> int:
        """Claim every due row and start sending it; returns how many were started."""
        now = self.clock()
        async with self.store.write() as conn:
            stmt = (
                select(outbox)
                .where(and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now))
                .order_by(outbox.c.id)
                .limit(200)
            )
            rows = (await conn.execute(self.store.for_update(stmt))).all()
            for row in rows:
                notifier = self.notifiers.get(row.notifier)
                timeout = notifier.config.timeout.total_seconds() if notifier else 0
                lease = now + timedelta(seconds=timeout + LEASE_SLACK)
                await conn.execute(
                    update(outbox).where(outbox.c.id == row.id).values(next_attempt_at=lease)
                )
        for row in rows:
            task = asyncio.create_task(self._deliver(row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(rows)

    async def drain(self, grace: float) -> None:
        """Wait for sends in flight (shutdown); what does not finish is retried after restart."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)

    async def _deliver(self, row: Any) -> None:
        notifier = self.notifiers.get(row.notifier)
        event = Event(row.event)
        if notifier is None:
            await self._finish(row, "failed", f"notifier {row.notifier!r} is not configured")
            return
        if event.is_page and not await self._still_triggered(row.incident_id):
            await self._finish(row, "muted", "incident no longer triggered", record=False)
            return
        limit = self._limits.setdefault(row.notifier, asyncio.Semaphore(PER_NOTIFIER))
        notification = Notification(
            event=event, level=row.level, incident=IncidentView.from_json(row.payload), key=row.key
        )
        async with limit:
            try:
                await asyncio.wait_for(
                    notifier.send(notification), notifier.config.timeout.total_seconds() + 5
                )
            except NotifyError as exc:
                await self._failed_attempt(row, notifier, str(exc), exc.retryable, exc.retry_after)
                return
            except TimeoutError:
                await self._failed_attempt(row, notifier, "timed out", True, None)
                return
            except Exception as exc:  # a notifier bug: retry, and say what it was
                await self._failed_attempt(
                    row, notifier, f"{type(exc).__name__}: {exc}", True, None
                )
                return
        await self._finish(row, "delivered", None)

    async def _still_triggered(self, incident_id: int | None) -> bool:
        if incident_id is None:
            return True
        async with self.store.read() as conn:
            status = (
                await conn.execute(select(incidents.c.status).where(incidents.c.id == incident_id))
            ).scalar()
        return status == "triggered"

    async def _failed_attempt(
        self, row: Any, notifier: Notifier, error: str, retryable: bool, retry_after: float | None
    ) -> None:
        now = self.clock()
        attempts = row.attempts + 1
        delay = max(backoff(attempts), retry_after or 0.0)
        next_at = now + timedelta(seconds=delay)
        too_old = next_at > row.created_at + notifier.config.max_age
        if not retryable or too_old:
            why = (
                "permanent failure"
                if not retryable
                else (f"gave up after {attempts} attempts (max_age {notifier.config.max_age})")
            )
            await self._finish(row, "failed", f"{why}: {error}")
            return
        async with self.store.write() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == row.id)
                .values(attempts=attempts, next_attempt_at=next_at, last_error=error)
            )
            if row.incident_id is not None:
                await add_timeline(
                    conn,
                    row.incident_id,
                    now,
                    "retry",
                    f"{row.event} to {row.notifier} failed (attempt {attempts}): "
                    f"{error}; retrying in {delay:.1f}s",
                    data={"outbox": row.id},
                )
        log.warning(
            "notify_retry",
            notifier=row.notifier,
            notification_event=row.event,
            incident=row.incident_id,
            attempt=attempts,
            error=error,
            retry_in=delay,
        )

    async def _finish(
        self, row: Any, status: str, error: str | None, *, record: bool = True
    ) -> None:
        now = self.clock()
        async with self.store.write() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == row.id)
                .values(
                    status=status,
                    attempts=row.attempts + (status != "muted"),
                    last_error=error,
                    delivered_at=now if status == "delivered" else None,
                )
            )
            if record and row.incident_id is not None:
                if status == "delivered":
                    message = f"{row.event} delivered to {row.notifier}"
                else:
                    message = f"{row.event} to {row.notifier} {status}: {error}"
                await add_timeline(
                    conn,
                    row.incident_id,
                    now,
                    status,
                    message,
                    data={"outbox": row.id, "level": row.level},
                )
        if status == "delivered":
            self.sent += 1
            log.info(
                "notified",
                notifier=row.notifier,
                notification_event=row.event,
                incident=row.incident_id,
                level=row.level,
            )
        elif status == "failed":
            self.failed += 1
            log.error(
                "notify_failed",
                notifier=row.notifier,
                notification_event=row.event,
                incident=row.incident_id,
                error=error,
            )
