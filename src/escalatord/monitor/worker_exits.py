"""When a probe worker is gone (`monitor/probes.py`): its exit status in words, the wait
before it is started again, and the result its checks' runs get meanwhile."""

from __future__ import annotations

import contextlib
import signal
from datetime import UTC, datetime

from escalatord.core.status import Result, Status

BACKOFF_MAX = 30.0  # seconds between restarts of a worker that keeps exiting


def exit_text(code: int | None) -> str:
    """An exit status as people read it: "exit code 1", "killed by SIGKILL"."""
    if code is None:
        return "exit status unknown"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


def backoff(failures: int) -> float:
    """Seconds before restart number `failures` (1, 2, 4 … BACKOFF_MAX)."""
    return min(BACKOFF_MAX, 2.0 ** max(0, failures - 1))


def down(why: str) -> Result:
    """The result of a run that no worker could take."""
    return Result(
        Status.UNKNOWN,
        f"{why}; the check runs again on schedule",
        at=datetime.now(UTC),
    )
