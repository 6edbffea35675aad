"""Sending one claimed row: muting a page that is no longer needed (a person's later contact
once the incident is acknowledged, too), the notifier's gate, the ack link, the person and
address of a page to a person, and retries with backoff (the "for each row" list in
notify/dispatcher.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import update

from escalatord.core.events import Event, IncidentView, Notification, Person
from escalatord.core.gate import Gate
from escalatord.errors import NotifyError
from escalatord.incidents.timeline import add_timeline
from escalatord.notify.base import Notifier
from escalatord.notify.links import AckLinks
from escalatord.notify.outcomes import Outcomes, recipient
from escalatord.store.db import Store
from escalatord.store.tables import outbox

log = structlog.get_logger("escalatord.dispatcher")

BACKOFF_BASE = 1.0  # seconds before the first retry (before jitter)
BACKOFF_CAP = 300.0  # never wait longer than this between attempts


def backoff(attempts: int, rng: Callable[[float, float], float] = random.uniform) -> float:
    """Seconds before attempt `attempts + 1`: exponential, capped, with ±50% jitter."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return delay * rng(0.5, 1.5)


class Delivery(Outcomes):
    """Delivering one row; part of the Dispatcher (notify/dispatcher.py), whose `__init__`
    sets the state below."""

    store: Store
    links: AckLinks | None
    deferred: int
    _gates: dict[str, tuple[tuple[Any, ...], Gate]]

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
        """One send of `row`; the failure, or None when it was delivered.

        The failure's text has the notifier's secrets masked (Notifier.redact): it goes on to
        the log, the timeline, the outbox row and `test-notify`, and a receiver's error body,
        an exception or a plugin may quote the URL, a header or a token."""
        notification = await self._notification(row)
        # One send; its slot was taken when the row was claimed (dispatch_once).
        try:
            await asyncio.wait_for(
                notifier.send(notification), notifier.config.timeout.total_seconds() + 5
            )
        except NotifyError as exc:
            failure = exc
        except TimeoutError:
            failure = NotifyError("timed out", retryable=True)
        except Exception as exc:  # a notifier bug: retry, and say what it was
            failure = NotifyError(f"{type(exc).__name__}: {exc}", retryable=True)
        else:
            return None
        return NotifyError(
            notifier.redact(str(failure)),
            retryable=failure.retryable,
            retry_after=failure.retry_after,
        )

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
        person = None
        name = getattr(row, "person", None)
        if name is not None:  # a page or notice to a person, at one of their contacts
            info = (row.payload or {}).get("person") or {}
            person = Person(name, info.get("full_name"))
        return Notification(
            event=event,
            level=row.level,
            incident=incident,
            key=row.key,
            person=person,
            to=row.address if person is not None else None,
        )

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
                update(outbox)
                .where(outbox.c.id == row.id)
                .values(next_attempt_at=next_at, claimed_by=None)  # waiting, not being sent
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
                .values(
                    attempts=attempts, next_attempt_at=next_at, last_error=error, claimed_by=None
                )
            )
            if row.incident_id is not None:
                await add_timeline(
                    conn,
                    row.incident_id,
                    now,
                    "retry",
                    f"{row.event} to {recipient(row)} failed (attempt {attempts}): "
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
