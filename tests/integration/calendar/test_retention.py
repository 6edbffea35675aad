"""The retention job (calendar/retention.py) on a real SQLite file and a real PostgreSQL
server: exactly the old, finished rows go; open incidents and pending sends stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from escalatord.calendar import retention
from escalatord.store.db import Store
from escalatord.store.tables import ack_tokens, incidents, outbox, timeline

NOW = datetime(2026, 12, 7, 3, 30, tzinfo=UTC)
KEEP = timedelta(days=400)
DAY = timedelta(days=1)
OLD = NOW - KEEP - 100 * DAY  # well past the cutoff
RECENT = NOW - 10 * DAY


async def incident(
    store: Store,
    name: str,
    status: str,
    *,
    opened: datetime,
    ended: datetime | None = None,
    sends: tuple[tuple[str, datetime], ...] = (),
) -> int:
    """An incident with two timeline entries, an ack token and outbox rows (status, created)."""
    async with store.write() as conn:
        result = await conn.execute(
            insert(incidents).values(
                key=name,
                open_key=None if ended else name,
                title=name,
                status=status,
                severity="critical",
                check=name,
                labels={},
                steps=[],
                opened_at=opened,
                resolved_at=ended,
                closed_at=ended if status == "closed" else None,
            )
        )
        incident_id = result.inserted_primary_key[0]
        for kind in ("opened", "paged"):
            await conn.execute(
                insert(timeline).values(incident_id=incident_id, at=opened, kind=kind, message=kind)
            )
        await conn.execute(
            insert(ack_tokens).values(
                token_id=f"t-{name}",
                incident_id=incident_id,
                recipient="hook",
                used_at=opened,
                used_by="alice",
            )
        )
        for number, (state, created) in enumerate(sends):
            await conn.execute(
                insert(outbox).values(**_row(f"{name}:{number}", incident_id, state, created))
            )
    return incident_id


def _row(key: str, incident_id: int | None, status: str, created: datetime) -> dict[str, Any]:
    return {
        "key": key,
        "incident_id": incident_id,
        "notifier": "hook",
        "event": "triggered" if incident_id else "handoff",
        "level": 0,
        "payload": {},
        "status": status,
        "attempts": 1,
        "created_at": created,
        "next_attempt_at": created,
    }


async def loose(store: Store, key: str, status: str, created: datetime) -> None:
    """An outbox row without an incident (a test message or a handoff notice)."""
    async with store.write() as conn:
        await conn.execute(insert(outbox).values(**_row(key, None, status, created)))


async def left(store: Store) -> dict[str, Any]:
    """What is left: incident names, outbox keys, timeline and ack-token counts by incident."""
    async with store.read() as conn:
        names = {r.id: r.key for r in await conn.execute(select(incidents.c.id, incidents.c.key))}
        keys = set((await conn.execute(select(outbox.c.key))).scalars())
        entries = {
            names.get(r.incident_id, r.incident_id): r.n
            for r in await conn.execute(
                select(timeline.c.incident_id, func.count().label("n")).group_by(
                    timeline.c.incident_id
                )
            )
        }
        tokens = set((await conn.execute(select(ack_tokens.c.token_id))).scalars())
    return {"incidents": set(names.values()), "outbox": keys, "timeline": entries, "tokens": tokens}


async def estate(store: Store) -> None:
    """One incident of each kind the module docstring names, and loose outbox rows."""
    # Ended long ago, nothing left to send: goes whole.
    await incident(store, "gone", "closed", opened=OLD, ended=OLD + DAY,
                   sends=(("delivered", OLD), ("failed", OLD)))  # fmt: skip
    await incident(store, "gone-too", "resolved", opened=OLD, ended=OLD + DAY,
                   sends=(("muted", OLD),))  # fmt: skip
    # Ended long ago but a notice is still pending: the incident, its timeline and the pending
    # row stay; its old delivered page goes (finished, and the incident is not open).
    await incident(store, "pending", "resolved", opened=OLD, ended=OLD + DAY,
                   sends=(("delivered", OLD), ("pending", OLD + DAY)))  # fmt: skip
    # Ended recently after a long life: its old finished sends go, the incident stays.
    await incident(store, "long", "resolved", opened=OLD, ended=RECENT,
                   sends=(("delivered", OLD),))  # fmt: skip
    # Open for ages: everything stays (its sends say who was paged).
    await incident(store, "open", "acknowledged", opened=OLD, sends=(("delivered", OLD),))
    await incident(store, "firing", "triggered", opened=OLD, sends=(("failed", OLD),))
    for key, status, created in (
        ("test-old", "delivered", OLD),
        ("handoff-failed", "failed", OLD),
        ("handoff-muted", "muted", OLD),
        ("handoff-unsent", "pending", OLD),
        ("test-new", "delivered", RECENT),
    ):
        await loose(store, key, status, created)


@pytest.mark.parametrize("batch", [retention.BATCH, 2])
async def test_retention_removes_exactly_the_old_finished_rows(store: Store, batch: int) -> None:
    """Ended incidents past the retention go with their timeline, tokens and sends; an
    ended one with a pending send, a recent one and open ones stay (with their pending rows,
    and all the rows of the open ones), and so do pending and recent loose rows, whether the
    batches are large or of two rows."""
    await estate(store)
    removed = await retention.purge(store, NOW - KEEP, batch=batch)
    after = await left(store)
    assert after["incidents"] == {"pending", "long", "open", "firing"}
    assert after["outbox"] == {
        "pending:1", "open:0", "firing:0", "handoff-unsent", "test-new"
    }  # fmt: skip
    assert after["timeline"] == {"pending": 2, "long": 2, "open": 2, "firing": 2}
    assert after["tokens"] == {"t-pending", "t-long", "t-open", "t-firing"}
    assert (removed.incidents, removed.timeline, removed.ack_tokens) == (2, 4, 2)
    assert removed.outbox == 3 + 1 + 1 + 3  # gone's and gone-too's, pending's, long's, loose
    assert removed.total == 2 + 4 + 2 + 8


async def test_a_second_run_removes_nothing_and_a_young_store_loses_nothing(store: Store) -> None:
    """Retention is idempotent, and a store younger than the retention keeps every row."""
    await incident(store, "young", "closed", opened=RECENT, ended=RECENT + DAY,
                   sends=(("delivered", RECENT),))  # fmt: skip
    await loose(store, "test", "delivered", RECENT)
    first = await retention.run(store, NOW, KEEP)
    assert first.total == 0
    await estate(store)
    assert (await retention.run(store, NOW, KEEP)).total == 16
    assert (await retention.run(store, NOW, KEEP)).total == 0
    assert "young" in (await left(store))["incidents"]
