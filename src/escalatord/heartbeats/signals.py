"""What a job said through /heartbeat/<check>: one signal, and the last ones stored. Pure."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Signal(enum.StrEnum):
    """What a request to /heartbeat/<check>[/<what>] says about the job."""

    SUCCESS = "success"
    START = "start"
    FAIL = "fail"


@dataclass(frozen=True)
class Signals:
    """The last signals stored for one heartbeat check (a row of the `heartbeats` table)."""

    first_seen_at: datetime | None = None
    last_ping_at: datetime | None = None
    last_start_at: datetime | None = None
    last_fail_at: datetime | None = None
    last_exit_code: int | None = None
    last_body: str | None = None

    @property
    def finished_at(self) -> datetime | None:
        """When the job last finished, successfully or not."""
        times = [t for t in (self.last_ping_at, self.last_fail_at) if t is not None]
        return max(times) if times else None

    @property
    def failed(self) -> bool:
        """Whether the job's last finished run failed."""
        if self.last_fail_at is None:
            return False
        return self.last_ping_at is None or self.last_fail_at >= self.last_ping_at


def latest(signals: Signals) -> tuple[datetime, Signal] | None:
    """The newest signal stored, with when it arrived; None before the first one. A node of a
    cluster judges what another node stored with it (heartbeats/check.py `relayed`)."""
    found = [
        (at, signal)
        for at, signal in (
            (signals.last_ping_at, Signal.SUCCESS),
            (signals.last_start_at, Signal.START),
            (signals.last_fail_at, Signal.FAIL),
        )
        if at is not None
    ]
    return max(found, key=lambda pair: pair[0]) if found else None
