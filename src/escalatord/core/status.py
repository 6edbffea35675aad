"""What a check found: its status, one result, and a passive check's judgement. Pure.

These are the words every layer shares; `escalatord.checks.base` re-exports them for plugin
authors, whose checks return a `Result`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from escalatord.core.state import Params


class Status(enum.StrEnum):
    """The outcome of a check. `unreachable` is set by topology, never by a probe."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"
    UNREACHABLE = "unreachable"

    @property
    def is_problem(self) -> bool:
        return self is not Status.OK


@dataclass(frozen=True)
class Result:
    """One run of one check."""

    status: Status
    summary: str
    measurements: dict[str, float] = field(default_factory=dict)
    duration: float = 0.0  # seconds the probe took
    at: datetime | None = None  # when the probe finished (UTC); set by execute()
    # Seconds a probe worker's own loop was stalled while it ran (core/overload.py): a
    # worker's overload, not the target's. Set by the worker, never by a check.
    lost: float = 0.0


@dataclass(frozen=True)
class Judged:
    """What a passive check's judgement gives the monitor.

    `fed`: the result to feed the state machine with its own settings, or None when there is
    nothing new to count. `wake`: the instant after which the verdict changes by time alone
    (a heartbeat's deadline), when the check must be judged again whatever its `interval`;
    None when only a new signal can change it.
    """

    fed: tuple[Result, Params] | None
    wake: datetime | None = None
