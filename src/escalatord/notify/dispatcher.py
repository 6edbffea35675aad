"""Guaranteed delivery from the durable outbox, done once for every notifier type.

Every notification is an outbox row before any attempt. The dispatcher claims due rows by
pushing their `next_attempt_at` one lease ahead (so a crash mid-send retries after the lease,
at least once, and two nodes never send one row at the same time), and sends each in its own
task with a timeout. A slow or dead notifier only occupies its own tasks.

For each row:
- a page for an incident that is no longer triggered is muted, not sent;
- the notifier's gate (notify/gate.py: rate limit, circuit breaker, a server's Retry-After)
  may postpone it without counting an attempt;
- a page gets its signed ack link (notify/links.py), the same on every retry;
- a failed attempt is retried with exponential backoff and jitter (at least as long as the
  server's Retry-After) until the row is `max_age` old;
- a permanent failure or an exhausted retry is recorded on the incident timeline, counted,
  and a page goes on to the notifier's `fallback`. When a page has no fallback left and no
  other page of its step reached anyone, the next level is paged at once
  (`incidents.pages.nobody_reached`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, insert, select, update

from escalatord.errors import NotifyError
from escalatord.incidents.pages import nobody_reached
from escalatord.incidents.service import add_timeline
from escalatord.notify.base import Event, IncidentView, Notification, Notifier
from escalatord.notify.gate import Gate
from escalatord.notify.links import AckLinks
from escalatord.store.db import Store
from escalatord.store.groupcommit import GroupCommit
from escalatord.store.tables import incidents, outbox

log = structlog.get_logger("escalatord.dispatcher")

BACKOFF_BASE = 1.0  # seconds before the first retry (before jitter)
BACKOFF_CAP = 300.0  # never wait longer than this between attempts
LEASE_SLACK = 30.0  # a claimed row is retried this long after its send timeout if we die
PER_NOTIFIER = 8  # sends in flight per notifier
MAX_FALLBACK_DEPTH = 8  # config forbids fallback cycles; this bounds a chain regardless


@dataclass(frozen=True)
class _Outcome:
    """What became of one claimed row, to be recorded."""

    row: Any
    status: str  # delivered | failed | muted
    error: str | None
    record: bool  # leave a timeline entry
    now: datetime


def backoff(attempts: int, rng: Callable[[float, float], float] = random.uniform) -> float:
    """Seconds before attempt `attempts + 1`: exponential, capped, with ±50% jitter."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return delay * rng(0.5, 1.5)


class Dispatcher:
    """Sends what the outbox holds. `wake()` after enqueueing to skip the poll delay.

    `links` makes the ack links in pages; without it pages carry none (`ack_url` null).
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
    ):
        self.store = store
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
        self._finishes: GroupCommit[_Outcome, tuple[str | None, bool]] = GroupCommit(
            store, self._record, name="dispatcher-outcomes"
        )

    def wake(self) -> None:
        self._wake.set()

    def replace_notifiers(self, notifiers: Mapping[str, Notifier]) -> None:
        """Used by reload: rows for a removed notifier fail with a clear error."""
        self.notifiers = dict(notifiers)

    def gate(self, notifier: Notifier) -> Gate:
        """The notifier's gate; a new one when its limits changed in a reload."""
        cfg = notifier.config
        settings = (cfg.rate, cfg.breaker_failures, cfg.breaker_cooldown)
        known = self._gates.get(notifier.name)
        if known is None or known[0] != settings:
            gate = Gate(cfg.rate, cfg.breaker_failures, cfg.breaker_cooldown.total_seconds())
            self._gates[notifier.name] = (settings, gate)
            return gate
        return known[1]

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
                    .values(next_attempt_at=self._lease(now, name))
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

    # -- one row ------------------------------------------------------------------------------

    async def _deliver(self, row: Any) -> None:
        notifier = self.notifiers.get(row.notifier)
        event = Event(row.event)
        if notifier is None:
            await self._finish(row, "failed", f"notifier {row.notifier!r} is not configured")
            return
        if event.is_page and not self._still_triggered(row):
            await self._finish(row, "muted", "incident no longer triggered", record=False)
            return
        gate = self.gate(notifier)
        wait = gate.admit(time.monotonic())
        if wait > 0:
            await self._postpone(row, notifier, wait, gate.state)
            return
        failure = await self._attempt(row, notifier)
        now = time.monotonic()
        if failure is None:
            gate.success(now)
            await self._finish(row, "delivered", None)
            return
        if failure.retryable:
            if gate.failure(now, failure.retry_after):
                log.warning(
                    "circuit_open",
                    notifier=row.notifier,
                    failures=gate.failures,
                    cooldown=notifier.config.breaker_cooldown.total_seconds(),
                )
        else:
            gate.success(now)  # the endpoint answered: it is up, this message was refused
        await self._failed_attempt(row, notifier, failure, gate.blocked_for(now))

    async def _attempt(self, row: Any, notifier: Notifier) -> NotifyError | None:
        """One send of `row`; the failure, or None when it was delivered."""
        notification = await self._notification(row)
        # One send; its slot was taken when the row was claimed (dispatch_once).
        try:
            await asyncio.wait_for(
                notifier.send(notification), notifier.config.timeout.total_seconds() + 5
            )
        except NotifyError as exc:
            return exc
        except TimeoutError:
            return NotifyError("timed out", retryable=True)
        except Exception as exc:  # a notifier bug: retry, and say what it was
            return NotifyError(f"{type(exc).__name__}: {exc}", retryable=True)
        return None

    async def _notification(self, row: Any) -> Notification:
        incident = IncidentView.from_json(row.payload)
        event = Event(row.event)
        if event.is_page and self.links is not None and row.incident_id is not None:
            try:
                url = await self.links.url(row.incident_id, row.id, row.created_at)
            except Exception:  # a page without a link beats no page
                log.exception("ack_link_failed", incident=row.incident_id)
            else:
                incident = dataclasses.replace(incident, ack_url=url)
        return Notification(event=event, level=row.level, incident=incident, key=row.key)

    @staticmethod
    def _still_triggered(row: Any) -> bool:
        """Whether the incident was still triggered when the row was claimed (just now)."""
        if row.incident_id is None:
            return True
        return row.incident_status == "triggered"

    async def _postpone(self, row: Any, notifier: Notifier, wait: float, state: str) -> None:
        """Not now (rate limit, open circuit, Retry-After): try again in `wait` seconds, without
        counting an attempt, unless that is past the row's max_age."""
        now = self.clock()
        next_at = now + timedelta(seconds=wait)
        if next_at > row.created_at + notifier.config.max_age:
            why = "circuit open" if state != "closed" else "held back by rate limit or Retry-After"
            await self._finish(
                row,
                "failed",
                f"gave up: {why} until after max_age ({notifier.config.max_age})",
            )
            return
        async with self.store.write() as conn:
            await conn.execute(
                update(outbox).where(outbox.c.id == row.id).values(next_attempt_at=next_at)
            )
        self.deferred += 1
        log.debug("notify_postponed", notifier=row.notifier, wait=round(wait, 3), circuit=state)

    async def _failed_attempt(
        self, row: Any, notifier: Notifier, failure: NotifyError, hold: float = 0.0
    ) -> None:
        """Schedule the next attempt, or give up. `hold`: seconds the notifier's gate keeps
        everything back (open circuit, Retry-After); a retry is never planned sooner."""
        now = self.clock()
        error = str(failure)
        attempts = row.attempts + 1
        delay = max(backoff(attempts), failure.retry_after or 0.0, hold)
        next_at = now + timedelta(seconds=delay)
        max_age = notifier.config.max_age
        too_old = next_at > row.created_at + max_age
        if not failure.retryable or too_old:
            if not failure.retryable:
                why = "permanent failure"
            elif hold >= delay:
                why = f"gave up after {attempts} attempts: circuit open past max_age ({max_age})"
            else:
                why = f"gave up after {attempts} attempts (max_age {max_age})"
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
        self.outcomes[(row.notifier, "retry")] += 1
        log.warning(
            "notify_retry",
            notifier=row.notifier,
            notification_event=row.event,
            incident=row.incident_id,
            attempt=attempts,
            error=error,
            retry_in=round(delay, 3),
        )

    async def _finish(
        self, row: Any, status: str, error: str | None, *, record: bool = True
    ) -> None:
        """Record the row's outcome (with fallback or escalation), then count and log it.
        Outcomes that finish together share one transaction (store/groupcommit.py)."""
        fallback, escalated = await self._finishes.submit(
            _Outcome(row, status, error, record, self.clock())
        )
        self.outcomes[(row.notifier, status)] += 1
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
                fallback=fallback,
            )
        if fallback is not None:
            self.fallbacks += 1
            self.wake()
        if escalated:
            self.unreached += 1
            log.error("page_reached_nobody", incident=row.incident_id, key=row.key)
            self.wake()  # the next level's pages are in the outbox now

    async def _record(self, conn: Any, outcome: _Outcome) -> tuple[str | None, bool]:
        """Write one outcome in a shared transaction; returns (fallback notifier, escalated)."""
        row, status, error, now = outcome.row, outcome.status, outcome.error, outcome.now
        fallback: str | None = None
        escalated = False
        if row.incident_id is not None:
            # Lock order is incident, then its outbox rows, as in ack/resolve (service.py):
            # the other order deadlocks against them on PostgreSQL.
            await conn.execute(
                select(incidents.c.id).where(incidents.c.id == row.incident_id).with_for_update()
            )
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
        if outcome.record and row.incident_id is not None:
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
        if status == "failed" and row.incident_id is not None and Event(row.event).is_page:
            fallback = await self._fall_back(conn, row, now)
            if fallback is None:
                escalated = await nobody_reached(
                    conn, row.incident_id, row.key, now=now, error=error or "failed"
                )
        return fallback, escalated

    async def _fall_back(self, conn: Any, row: Any, now: datetime) -> str | None:
        """Enqueue the failed page for the notifier's fallback; returns its name, if any."""
        notifier = self.notifiers.get(row.notifier)
        target = notifier.config.fallback if notifier is not None else None
        if target is None or row.key.count(">") >= MAX_FALLBACK_DEPTH:
            return None
        key = f"{row.key}>{target}"
        exists = (await conn.execute(select(outbox.c.id).where(outbox.c.key == key))).first()
        if exists is not None:
            return None
        await conn.execute(
            insert(outbox).values(
                key=key,
                incident_id=row.incident_id,
                notifier=target,
                event=row.event,
                level=row.level,
                payload=row.payload,
                status="pending",
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
        )
        await add_timeline(
            conn,
            row.incident_id,
            now,
            "fallback",
            f"{row.event} to {row.notifier} could not be delivered: sending it to {target}",
            data={"outbox": row.id, "fallback": target},
        )
        return target
