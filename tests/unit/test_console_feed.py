"""The console's pure parts: the board's one read per refresh for all visitors, the order of
open incidents, and the public status words."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from escalatord.console import feed as feed_module
from escalatord.console.feed import BoardFeed, Snapshot, order_incidents
from escalatord.console.status import DEGRADED, DOWN, MAINTENANCE, UP, state_of, summary

T0 = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    at: datetime = T0

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Services:
    now: Clock


async def test_many_visitors_share_one_read_per_refresh(monkeypatch):
    """Twenty board requests at once make one read; another read happens only once the
    snapshot is older than the refresh."""
    clock = Clock()
    release = asyncio.Event()
    reads: list[datetime] = []

    async def read_board(services, now):
        reads.append(now)
        await release.wait()
        return Snapshot(now, [], [])

    monkeypatch.setattr(feed_module, "read_board", read_board)
    board = BoardFeed(Services(clock), refresh=timedelta(seconds=5))  # type: ignore[arg-type]
    waiting = [asyncio.create_task(board.snapshot()) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiting)
    assert len(reads) == 1 and all(r is results[0] for r in results)
    clock.at += timedelta(seconds=4)
    await board.snapshot()
    assert len(reads) == 1
    clock.at += timedelta(seconds=1)
    await board.snapshot()
    assert reads == [T0, T0 + timedelta(seconds=5)]


def test_open_incidents_are_ordered_by_priority_then_age():
    """Priority first (the incident's, else its category's, none last), oldest first within."""
    rows = [
        {"id": "1", "priority": None, "category": None, "opened_at": "2026-12-08T08:00:00Z"},
        {"id": "2", "priority": 3, "category": "office", "opened_at": "2026-12-08T07:00:00Z"},
        {"id": "3", "priority": None, "category": "care", "opened_at": "2026-12-08T09:00:00Z"},
        {"id": "4", "priority": 1, "category": "care", "opened_at": "2026-12-08T08:30:00Z"},
    ]
    ordered = order_incidents(rows, {"care": 1, "office": 3})
    assert [r["id"] for r in ordered] == ["4", "3", "2", "1"]


def test_status_words():
    """up, degraded, down and in maintenance as docs/console.md defines them."""
    assert state_of([("ok", False), ("ok", False)]) == UP
    assert state_of([("ok", False), ("warning", False)]) == DEGRADED
    assert state_of([("critical", False), ("unreachable", False)]) == DOWN
    assert state_of([("critical", False), ("ok", False)]) == DEGRADED
    assert state_of([("critical", True), ("ok", False)]) == MAINTENANCE
    assert state_of([("critical", True), ("critical", False)]) == DOWN
    sites, categories = summary(
        [("a", "boston", "ok", False), ("b", None, "critical", False)], {"b": "care"}
    )
    assert [(line.name, line.state) for line in sites] == [("boston", UP)]
    assert [(line.name, line.state) for line in categories] == [("care", DOWN)]
