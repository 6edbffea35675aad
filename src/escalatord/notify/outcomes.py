"""What became of each row the dispatcher finished with (delivered, failed, muted): written
in shared transactions (store/groupcommit.py), counted and logged; a failed page goes on to
its notifier's fallback or, when nobody was reached, to the next level."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import insert, select, update

from escalatord.core.events import Event
from escalatord.incidents.ladder import Resolver
from escalatord.incidents.pages import nobody_reached
from escalatord.incidents.timeline import add_timeline
from escalatord.notify.base import Notifier
from escalatord.store.groupcommit import GroupCommit
from escalatord.store.tables import incidents, outbox

log = structlog.get_logger("escalatord.dispatcher")

MAX_FALLBACK_DEPTH = 8  # config forbids fallback cycles; this bounds a chain regardless


def recipient(row: Any) -> str:
    """Who a row went to, as the timeline says it: "alice (mail)" for a person, else the
    notifier."""
    person = getattr(row, "person", None)
    return f"{person} ({row.notifier})" if person else row.notifier


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row, to be recorded."""

    row: Any
    status: str  # delivered | failed | muted
    error: str | None
    record: bool  # leave a timeline entry
    now: datetime


class Outcomes:
    """Recording, counting and logging outcomes; part of the Dispatcher (notify/dispatcher.py),
    whose `__init__` sets the state below."""

    notifiers: dict[str, Notifier]
    resolver: Resolver | None  # resolves the next level's names when nobody was reached
    clock: Callable[[], datetime]
    sent: int
    failed: int
    fallbacks: int
    unreached: int
    outcomes: Counter[tuple[str, str]]
    _finishes: GroupCommit[Outcome, tuple[str | None, bool]]
    wake: Callable[[], None]

    async def _finish(
        self, row: Any, status: str, error: str | None, *, record: bool = True
    ) -> None:
        """Record the row's outcome (with fallback or escalation), then count and log it.
        Outcomes that finish together share one transaction (store/groupcommit.py)."""
        fallback, escalated = await self._finishes.submit(
            Outcome(row, status, error, record, self.clock())
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

    async def _record(self, conn: Any, outcome: Outcome) -> tuple[str | None, bool]:
        """Write one outcome in a shared transaction; returns (fallback notifier, escalated)."""
        row, status, error, now = outcome.row, outcome.status, outcome.error, outcome.now
        fallback: str | None = None
        escalated = False
        if row.incident_id is not None:
            # Lock order is incident, then its outbox rows, as in ack/resolve
            # (incidents/transitions.py): the other order deadlocks against them on PostgreSQL.
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
                claimed_by=None,
            )
        )
        if outcome.record and row.incident_id is not None:
            if status == "delivered":
                message = f"{row.event} delivered to {recipient(row)}"
            else:
                message = f"{row.event} to {recipient(row)} {status}: {error}"
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
                    conn,
                    row.incident_id,
                    row.key,
                    now=now,
                    error=error or "failed",
                    resolver=self.resolver,
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
            f"{row.event} to {recipient(row)} could not be delivered: sending it to {target}",
            data={"outbox": row.id, "fallback": target},
        )
        return target
