"""The satellite's buffer (a SQLite file): oldest first by the time taken, survives a reopen,
bounded with the oldest dropped first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from escalatord.satellite.buffer import Buffer

T0 = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)


def result(check: str, seconds: float) -> dict:
    at = T0 + timedelta(seconds=seconds)
    return {"check": check, "status": "ok", "summary": "", "at": at.isoformat()}


def test_results_come_out_oldest_first_whatever_order_they_went_in(tmp_path):
    """Taken times order the buffer (ties: insertion order), not arrival."""
    buffer = Buffer(str(tmp_path / "b.sqlite"))
    buffer.add([result("b", 2), result("a", 1)])
    buffer.add([result("c", 0.5), result("d", 2)])
    assert [r["check"] for _, r in buffer.oldest(10)] == ["c", "a", "b", "d"]
    assert [r["check"] for _, r in buffer.oldest(2)] == ["c", "a"]


def test_delivered_results_are_removed_and_the_rest_survive_a_restart(tmp_path):
    """remove() takes out what the central daemon answered for; a reopened file keeps the rest."""
    path = str(tmp_path / "b.sqlite")
    buffer = Buffer(path)
    buffer.add([result("a", 1), result("b", 2), result("c", 3)])
    buffer.remove([row_id for row_id, _ in buffer.oldest(2)])
    buffer.close()
    again = Buffer(path)
    assert [r["check"] for _, r in again.oldest(10)] == ["c"] and len(again) == 1


def test_past_its_limit_the_oldest_results_are_dropped(tmp_path):
    """limit 3, five results: the two oldest are dropped and counted."""
    buffer = Buffer(str(tmp_path / "b.sqlite"), limit=3)
    buffer.add([result(name, i) for i, name in enumerate("abcde")])
    assert [r["check"] for _, r in buffer.oldest(10)] == ["c", "d", "e"]
    assert buffer.dropped == 2
