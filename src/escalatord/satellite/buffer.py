"""The satellite's buffer: results waiting for the central daemon, in a SQLite file.

Every result goes here first and leaves only once the central daemon has answered for it, so
nothing is lost while the link is down or the satellite restarts. Results come out oldest
first (by the time they were taken), as the central daemon must apply them. The buffer is
bounded: past `limit` results the oldest are dropped, with a log line saying how many.
Each call is one small transaction on a local file: cheap enough for the event loop.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime
from typing import Any

import structlog

log = structlog.get_logger("escalatord.satellite")
DEFAULT_LIMIT = 100_000


class Buffer:
    def __init__(self, path: str, limit: int = DEFAULT_LIMIT):
        self.path = path
        self.limit = limit
        fresh = not os.path.exists(path)
        self._db = sqlite3.connect(path, isolation_level=None)
        if fresh:
            os.chmod(path, 0o600)  # summaries may say more about the office than it should
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS results ("
            "id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, body TEXT NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS results_at ON results (at, id)")
        self.dropped = 0

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM results").fetchone()[0])

    def add(self, results: list[dict[str, Any]]) -> None:
        """Keep `results` (wire form, with "at"); drop the oldest past the limit."""
        rows = [(datetime.fromisoformat(r["at"]).timestamp(), json.dumps(r)) for r in results]
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT INTO results (at, body) VALUES (?, ?)", rows)
            excess = len(self) - self.limit
            if excess > 0:
                self._db.execute(
                    "DELETE FROM results WHERE id IN "
                    "(SELECT id FROM results ORDER BY at, id LIMIT ?)",
                    (excess,),
                )
        if excess > 0:
            self.dropped += excess
            log.warning(
                "satellite_buffer_full",
                dropped=excess,
                dropped_total=self.dropped,
                limit=self.limit,
                hint="the oldest results were dropped; the central daemon has been out of "
                "reach for long: raise --buffer-limit or mend the link",
            )

    def oldest(self, count: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to `count` results, oldest first, with their row ids."""
        rows = self._db.execute(
            "SELECT id, body FROM results ORDER BY at, id LIMIT ?", (count,)
        ).fetchall()
        return [(row_id, json.loads(body)) for row_id, body in rows]

    def remove(self, ids: list[int]) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM results WHERE id = ?", [(i,) for i in ids])

    def close(self) -> None:
        self._db.close()
