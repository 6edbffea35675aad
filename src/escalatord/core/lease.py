"""A node's lease in a cluster, and when it must stop working: pure decisions, time passed in.

Each node renews its lease row every `renew_every` seconds; a renewal holds for `lease`
seconds, measured by the database's clock (store/nodes.py writes `now() + lease`). Other
nodes take a node's checks once its lease has lapsed by the database's clock.

The node itself cannot ask the database whether it still holds the lease when the database
is out of reach, so it fences itself by its own monotonic clock: it stops probing and
sending `fence_after` seconds after the START of its last successful renewal. The database
wrote that renewal's expiry no earlier than that start, so the node stops at least `margin`
seconds before anyone can see its lease lapsed. Only the clocks' rates matter (both count
seconds), never their offsets.

    timing = LeaseTiming.from_failover(30.0)     # lease 15 s, renewed every 3 s, fence at 12 s
    fenced(last_renewal_start=100.0, now=112.5, timing=timing)    # True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LeaseTiming:
    """The cluster's timings in seconds (`[cluster]`, docs/cluster.md).

    - `failover`: a dead node's checks run again within this long;
    - `lease`: how long one renewal holds;
    - `renew_every`: how often a node renews and re-reads who is live;
    - `margin`: how long before its lease could lapse a cut-off node fences itself.
    """

    failover: float
    lease: float
    renew_every: float
    margin: float

    @classmethod
    def from_failover(
        cls, failover: float, lease: float | None = None, renew_every: float | None = None
    ) -> LeaseTiming:
        """Timings derived from `failover`: lease half of it, renewed five times per lease,
        and a margin of one renewal. A lapsed node is seen within lease + renew_every, and
        its checks, overdue by then, run at once: well within `failover`."""
        lease = failover / 2 if lease is None else lease
        renew_every = lease / 5 if renew_every is None else renew_every
        return cls(failover=failover, lease=lease, renew_every=renew_every, margin=renew_every)

    @property
    def overdue_within(self) -> float:
        """How long a dead node's overdue checks take to start on the node taking them over:
        what is left of `failover` once its lease has lapsed and been seen (lease +
        renew_every), at least a second, so they start spread, not in one instant."""
        return max(1.0, self.failover - self.lease - self.renew_every)

    @property
    def fence_after(self) -> float:
        """Seconds after the start of the last successful renewal when the node fences."""
        return self.lease - self.margin

    def problems(self) -> list[str]:
        """What makes these timings unsafe, in words ([] when they are sound)."""
        found = []
        if self.renew_every * 2 > self.lease:
            found.append(
                f"renew_every ({self.renew_every:g}s) must be at most half of lease "
                f"({self.lease:g}s), so one late renewal does not fence a node"
            )
        if self.lease + self.renew_every > self.failover:
            found.append(
                f"lease + renew_every ({self.lease + self.renew_every:g}s) must be shorter "
                f"than failover ({self.failover:g}s): a dead node is seen only after both"
            )
        return found


def fenced(last_renewal_start: float | None, now: float, timing: LeaseTiming) -> bool:
    """Whether a node must stop probing and sending at monotonic time `now`, given when its
    last successful renewal started (None: it never renewed, so it holds nothing). The
    cluster's loop sleeps until `fence_at`; this is the same rule asked at an instant."""
    return last_renewal_start is None or now >= fence_at(last_renewal_start, timing)


def fence_at(last_renewal_start: float, timing: LeaseTiming) -> float:
    """The monotonic time at which a node that renewed at `last_renewal_start` fences."""
    return last_renewal_start + timing.fence_after


def lapsed(lease_until: datetime | None, now: datetime) -> bool:
    """Whether a lease row has lapsed at `now` (the database's clock). A row without a lease
    (a single node, or one stopped gracefully) counts as lapsed."""
    return lease_until is None or lease_until <= now


def resume_delay(last_run: datetime | None, every: float, now: datetime, spread: float) -> float:
    """Seconds until the first run of a check a node has just taken over: when its next run
    was due after `last_run` (stored by its previous owner), or within `spread` seconds
    when that is past (a dead node's checks are overdue; `spread` keeps them from all
    starting in the same instant). Never later than one interval."""
    if last_run is None:
        return spread
    due = (last_run - now).total_seconds() + every
    return min(every, due) if due > spread else spread
