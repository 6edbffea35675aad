"""When the daemon is overloaded, and when a failed probe is its overload, not the target's.
Pure: figures and times are passed in (monitor/overload.py measures them).

Issue 17: a saturated daemon reported thousands of healthy checks critical, because their
probes timed out while the event loop was too busy to read the replies. A failed result is
blamed on the daemon (`saturated`) only when both hold:

- the probe used up most of its time (`duration >= SPENT_SHARE x timeout`): it timed out, in
  whatever words its check type uses ("timed out", "no reply"). A refused connection, a 500
  or a wrong body comes back at once and counts, however busy the daemon is;
- the daemon itself lost a good part of that time (`lost >= LOST_SHARE x timeout`): its event
  loop was stalled that long while the probe ran, or the probe waited that long in a queue of
  the daemon's own before it started.

A genuinely slow target on a daemon that keeps up loses nothing to the daemon, so it fails as
before. While the daemon is overloaded a slow target cannot be told from a slow daemon: such
runs are reported as the daemon's overload (/healthz degraded, /metrics, the log), and the
check counts again once the daemon keeps up.
"""

from __future__ import annotations

from dataclasses import dataclass

SPENT_SHARE = 0.8
LOST_SHARE = 0.25
# The daemon is overloaded when its oldest waiting run is this many seconds overdue ...
BEHIND_LIMIT = 2.0
# ... or its event loop was this late (seconds) all along the last 10-20 s ...
LAG_LIMIT = 0.5
# ... or any failure was blamed on it in the last window.


# The runs in flight are capped lower while the event loop runs late: past the point where the
# loop is busy all the time, more runs in flight only make every iteration longer (the API,
# state flushes and pages wait as long), not more checks complete.
LAG_TARGET = 0.2  # seconds of loop lateness the cap aims to stay under
MIN_RUNNING = 50


def next_limit(limit: int, most: int, lag: float, full: bool) -> int:
    """The cap on runs in flight after a look at the loop: cut by a quarter while the loop's
    worst lateness since the last look (`lag`) is over LAG_TARGET; raised by a tenth, up to
    `most`, while the loop keeps well within it and the cap is `full` (runs are waiting)."""
    if lag > LAG_TARGET:
        return max(MIN_RUNNING, min(limit, most) * 3 // 4)
    if full and lag < LAG_TARGET / 2:
        return min(most, limit + max(10, limit // 10))
    return min(limit, most)


def saturated(problem: bool, duration: float, timeout: float, lost: float) -> bool:
    """Whether a result is the daemon's overload rather than the target's failure (see above).

    `problem`: the result is not OK; `duration`: seconds the probe took; `timeout`: the
    check's; `lost`: seconds the daemon lost while the probe ran (loop stalls, queueing)."""
    if not problem or timeout <= 0:
        return False
    return duration >= SPENT_SHARE * timeout and lost >= LOST_SHARE * timeout


@dataclass(frozen=True)
class Pressure:
    """How the daemon keeps up, as measured over the last window."""

    behind: float  # seconds the most overdue waiting run is past its due time
    loop_lag: float  # how late the event loop ran all along the window, seconds
    running: int  # runs in flight
    limit: int  # runs in flight at most
    blamed: int  # failed results blamed on the daemon in the window (`saturated`)


def problem(p: Pressure) -> str | None:
    """The overload in words for /healthz and the log, or None when the daemon keeps up."""
    parts = []
    if p.behind >= BEHIND_LIMIT:
        parts.append(
            f"checks are running {p.behind:.1f} s behind schedule "
            f"({p.running} of at most {p.limit} runs going)"
        )
    if p.loop_lag >= LAG_LIMIT:
        parts.append(f"the event loop keeps running {p.loop_lag:.2f} s late")
    if p.blamed:
        parts.append(
            f"probe timeouts that were the daemon's, not counted against checks: {p.blamed}"
        )
    if not parts:
        return None
    return "overloaded: " + "; ".join(parts)
