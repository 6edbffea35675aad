"""Whether the store can still be written: the verdict /healthz, /metrics and the watchdog share.

A database that answers `SELECT 1` may still refuse every write (a full disk, a read-only
file system) or take them into a file nobody will ever open again (the SQLite file was
deleted or replaced under the running daemon: writes land in the unlinked inode). So the
store keeps a `WriteHealth`, fed by every write transaction (store/db.py) and by a small write
the daemon makes every few seconds whatever else it does (store/watch.py), so that an idle
daemon is measured too.

Pure: every method takes `now` (monotonic seconds), nothing here reads a clock or a file.

    health = WriteHealth(now=0.0)
    health.wrote(now=1.0)                   # a write transaction that changed rows committed
    health.failed(now=2.0, error="OperationalError: database or disk is full")
    health.problems(now=2.5)                # ["the last write failed 0.5 s ago: ..."]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# A write is tried this often (store/watch.py); no success for STALE_AFTER means writes hang.
PROBE_EVERY = 5.0
STALE_AFTER = 30.0

Metric = tuple[str, str, str, list[tuple[str, float]]]


@dataclass
class WriteHealth:
    """The outcome of the latest writes, and whether the database file is still the opened one.

    Unhealthy (`problems()` not empty) while any of these holds:
    - the latest write that ended did so with a database error (a later success clears it);
    - no write has succeeded for `stale_after` seconds (writes hang, or only fail);
    - the database file at its path is not the file that was opened (`file_problem`).
    """

    now: float  # when tracking began: the daemon is not "stale" before its first write
    stale_after: float = STALE_AFTER
    last_ok: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    failures: int = 0
    file_problem: str | None = None
    _began: float = field(init=False)

    def __post_init__(self) -> None:
        self._began = self.now

    def wrote(self, now: float) -> None:
        """A write transaction that changed rows committed."""
        self.last_ok = now

    def failed(self, now: float, error: str) -> None:
        """A write transaction failed with a database error (`error`: what the driver said)."""
        self.last_error, self.last_error_at = error, now
        self.failures += 1

    def file_checked(self, problem: str | None) -> None:
        """The database file was compared with the one opened: None when it is the same."""
        self.file_problem = problem

    def failing(self) -> bool:
        """Whether the latest write that ended failed."""
        if self.last_error_at is None:
            return False
        return self.last_ok is None or self.last_error_at >= self.last_ok

    def causes(self, now: float) -> list[str]:
        """Which of "file", "failing", "stale" hold now; [] when writing is healthy."""
        found = []
        if self.file_problem is not None:
            found.append("file")
        if self.failing():
            found.append("failing")
        if now - self._since_ok() >= self.stale_after:
            found.append("stale")
        return found

    def problems(self, now: float) -> list[str]:
        """The causes in words, for /healthz and the log; [] when writing is healthy."""
        found = []
        for cause in self.causes(now):
            if cause == "file":
                found.append(str(self.file_problem))
            elif cause == "failing":
                ago = max(0.0, now - (self.last_error_at or now))
                found.append(f"the last write failed {ago:.1f} s ago: {self.last_error}")
            else:
                found.append(
                    f"no write has succeeded for {now - self._since_ok():.0f} s (one is tried "
                    f"every {PROBE_EVERY:.0f} s; a write that neither succeeds nor fails hangs)"
                )
        return found

    def _since_ok(self) -> float:
        return self._began if self.last_ok is None else self.last_ok

    def metrics(self, now: float, wall: float) -> list[Metric]:
        """Prometheus samples (name, kind, help, samples); `wall` is time.time() at `now`."""
        last = math.nan if self.last_ok is None else wall - (now - self.last_ok)
        return [
            (
                "escalatord_store_writable",
                "gauge",
                "1 while writes to the database succeed and its file is the one opened, else 0.",
                [("", 0 if self.causes(now) else 1)],
            ),
            (
                "escalatord_store_last_write_success_timestamp_seconds",
                "gauge",
                "Unix time of the last write transaction that committed changes.",
                [("", last)],
            ),
            (
                "escalatord_store_write_failures_total",
                "counter",
                "Write transactions that failed with a database error.",
                [("", self.failures)],
            ),
            (
                "escalatord_store_file_replaced",
                "gauge",
                "1 when the SQLite file at the database path is not the file opened at start.",
                [("", 0 if self.file_problem is None else 1)],
            ),
        ]


FileId = tuple[int, int]  # (st_dev, st_ino)


def file_problem(path: str, opened: FileId, now: FileId | None) -> str | None:
    """Why the file at `path` (identity `now`, None when missing) is not the one opened."""
    fix = (
        "escalatord keeps writing into the file it opened, which nobody can open again. "
        "Fix: move the file back, or restart escalatord to open a database at the path "
        "(under systemd the watchdog restarts it; see docs/systemd.md)"
    )
    if now is None:
        return f"the database file {path} was deleted while escalatord ran; {fix}"
    if now != opened:
        return (
            f"the database file {path} was deleted or replaced while escalatord ran (the file "
            f"at that path is not the one opened); {fix}"
        )
    return None
