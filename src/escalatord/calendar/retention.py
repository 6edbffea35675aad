"""Retention (`[daemon] retention`, default 400 days): what is older is deleted, in small
batches, each its own short write transaction, so the writer is never held for long.

What goes, for a cutoff of now - retention:
- outbox rows that are finished (delivered, failed, muted) and were created before the cutoff,
  unless their incident is still open (they say who was paged: the ack and resolved notices
  go to them);
- incidents that ended (resolved or closed) before the cutoff and have no pending outbox row,
  with their timeline entries, ack tokens and outbox rows. The incident row goes too: a
  retention that kept the rows forever would not be one, and an incident without its
  timeline would be a record nobody can explain.

Never deleted: an open incident (triggered or acknowledged), whatever its age, and a pending
outbox row (not sent yet). Every function takes the store; the job is calendar/jobs.py's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Delete, Select, and_, delete, exists, func, or_, select

from escalatord.core.lifecycle import IncidentStatus
from escalatord.store.db import Store
from escalatord.store.tables import ack_tokens, incidents, outbox, timeline

log = structlog.get_logger("escalatord.retention")

BATCH = 500  # rows per transaction: a few milliseconds of the writer on either backend
ENDED = (IncidentStatus.RESOLVED.value, IncidentStatus.CLOSED.value)


@dataclass
class Removed:
    """How many rows one pass removed, by table."""

    outbox: int = 0
    timeline: int = 0
    ack_tokens: int = 0
    incidents: int = 0

    @property
    def total(self) -> int:
        return self.outbox + self.timeline + self.ack_tokens + self.incidents


def _ended_before(cutoff: datetime) -> Select:
    """Ids of incidents that ended before `cutoff` and have nothing left to send."""
    pending = exists().where(
        and_(outbox.c.incident_id == incidents.c.id, outbox.c.status == "pending")
    )
    ended_at = func.coalesce(incidents.c.resolved_at, incidents.c.closed_at)
    return select(incidents.c.id).where(
        and_(incidents.c.status.in_(ENDED), ended_at < cutoff, ~pending)
    )


def _old_outbox(cutoff: datetime) -> Select:
    """Ids of finished outbox rows created before `cutoff` whose incident is not open."""
    still_open = select(incidents.c.id).where(incidents.c.status.not_in(ENDED))
    return select(outbox.c.id).where(
        and_(
            outbox.c.status != "pending",
            outbox.c.created_at < cutoff,
            or_(outbox.c.incident_id.is_(None), outbox.c.incident_id.not_in(still_open)),
        )
    )


async def purge(store: Store, cutoff: datetime, *, batch: int = BATCH) -> Removed:
    """Delete what is older than `cutoff` (module docstring), `batch` rows per transaction;
    returns how many rows went from each table."""
    removed = Removed()
    ended = _ended_before(cutoff)
    removed.timeline = await _drain(
        store,
        lambda: delete(timeline).where(
            timeline.c.id.in_(
                select(timeline.c.id).where(timeline.c.incident_id.in_(ended)).limit(batch)
            )
        ),
    )
    removed.ack_tokens = await _drain(
        store,
        lambda: delete(ack_tokens).where(
            ack_tokens.c.token_id.in_(
                select(ack_tokens.c.token_id)
                .where(ack_tokens.c.incident_id.in_(ended))
                .limit(batch)
            )
        ),
    )
    removed.outbox = await _drain(
        store, lambda: delete(outbox).where(outbox.c.id.in_(_old_outbox(cutoff).limit(batch)))
    )
    removed.incidents = await _drain_incidents(store, ended, batch)
    return removed


async def _drain(store: Store, statement: Callable[[], Delete]) -> int:
    """Run the bounded DELETE from `statement()` until it deletes nothing; returns the total."""
    total = 0
    while True:
        async with store.write() as conn:
            count = (await conn.execute(statement())).rowcount or 0
        total += count
        if count == 0:
            return total
        await asyncio.sleep(0)  # let the other writers in between batches


async def _drain_incidents(store: Store, ended: Select, batch: int) -> int:
    """Delete ended incidents `batch` at a time, with whatever rows of theirs came in since
    the passes above (the foreign keys would refuse the incident otherwise)."""
    total = 0
    while True:
        async with store.write() as conn:
            ids = list((await conn.execute(ended.limit(batch))).scalars())
            if ids:
                for table in (timeline, ack_tokens, outbox):
                    await conn.execute(delete(table).where(table.c.incident_id.in_(ids)))
                await conn.execute(delete(incidents).where(incidents.c.id.in_(ids)))
        total += len(ids)
        if len(ids) < batch:
            return total
        await asyncio.sleep(0)


async def run(store: Store, now: datetime, retention: timedelta) -> Removed:
    """The nightly job: purge what ended before `now - retention`, and log how much went."""
    cutoff = now - retention
    removed = await purge(store, cutoff)
    log.info(
        "retention_done",
        cutoff=cutoff.isoformat(),
        removed=removed.total,
        outbox=removed.outbox,
        timeline=removed.timeline,
        ack_tokens=removed.ack_tokens,
        incidents=removed.incidents,
    )
    return removed
