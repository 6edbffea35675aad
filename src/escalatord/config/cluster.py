"""The `[cluster]` section: several `escalatord run` processes on one PostgreSQL database
(docs/cluster.md).

    [cluster]
    node = "esc-1"          # this node's name (default: the host name); unique in the cluster
    failover = "30s"        # a dead node's checks run again elsewhere within this long
    # lease = "15s"         # how long one renewal of a node's lease holds (default failover/2)
    # renew_every = "3s"    # how often a node renews it and re-reads who is live (lease/5)

Without `[cluster]` the daemon is a single node, as always. A cluster needs PostgreSQL:
`[cluster]` with a SQLite database is refused by the loader (`sqlite_problem`).
"""

from __future__ import annotations

import socket
from datetime import timedelta

from pydantic import Field, model_validator

from escalatord.core.lease import LeaseTiming
from escalatord.fields import Duration, Strict

NODE = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
FAILOVER_MIN = timedelta(seconds=2)


def _host_name() -> str:
    return socket.gethostname() or "localhost"


class ClusterConfig(Strict):
    node: str = Field(default_factory=_host_name, min_length=1, max_length=200, pattern=NODE)
    failover: Duration = timedelta(seconds=30)
    lease: Duration | None = None
    renew_every: Duration | None = None

    @model_validator(mode="after")
    def _timing(self) -> ClusterConfig:
        if self.failover < FAILOVER_MIN:
            least = FAILOVER_MIN.total_seconds()
            raise ValueError(f'failover must be at least {least:g}s, e.g. failover = "30s"')
        for key in ("lease", "renew_every"):
            value = getattr(self, key)
            if value is not None and value <= timedelta(0):
                raise ValueError(
                    f"{key} must be longer than 0s; or leave it out (derived from failover)"
                )
        problems = self.timing.problems()
        if problems:
            raise ValueError(
                "; ".join(problems) + "; or leave lease and renew_every out (derived from failover)"
            )
        return self

    @property
    def timing(self) -> LeaseTiming:
        """The lease's timings in seconds (core/lease.py)."""
        return LeaseTiming.from_failover(
            self.failover.total_seconds(),
            None if self.lease is None else self.lease.total_seconds(),
            None if self.renew_every is None else self.renew_every.total_seconds(),
        )


class ClusterSection(Strict):
    """The base of the whole config (config/model.py `Config`) holding `[cluster]`: None
    without it, a single node."""

    cluster: ClusterConfig | None = None


def sqlite_problem(database: str) -> str | None:
    """The problem with `[cluster]` on this `[daemon] database`, or None (PostgreSQL)."""
    if database.split(":", 1)[0].split("+", 1)[0].lower() != "sqlite":
        return None
    return (
        "a cluster needs PostgreSQL: every node must share one database, and [daemon] database "
        "is SQLite (one file on one host). Fix: set [daemon] database to a postgresql:// URL "
        "on every node, or remove [cluster] to run a single node"
    )
