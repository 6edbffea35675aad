"""One node of a cluster (issue 17, docs/cluster.md): its lease, its share of the checks, and
its fence.

    cluster = Cluster(store, watch, monitor, timing=config.cluster.timing, take_back=...)
    await cluster.refresh()               # at start: renew, read who is live, take a share
    task = asyncio.create_task(cluster.run())
    cluster.active                        # False while fenced: no probes, ticks, sends
    await cluster.leave()                 # a graceful stop: the lease is given up at once

Every `renew_every` seconds the node renews its lease (store/watch.py `beat`, the database's
now + `lease`) and re-reads the nodes table: the live nodes are those whose lease holds by
the database's clock, and each check runs on the one rendezvous hashing picks among them
(core/rendezvous.py). When the live nodes change the monitor is handed its new share
(monitor/handover.py), and the outbox claims of instances no longer live are taken back.

Fencing: a timer is set at each successful renewal for `fence_after` seconds after the
renewal STARTED (core/lease.py). If no renewal succeeds before it fires (the database is out
of reach, or this process was stopped for a while), the node stops probing, ticking and
sending at that instant, before its lease can lapse and another node take its share. The
next successful renewal lifts the fence and the node takes its share again, reading the
checks' states from the store.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from hashlib import blake2b
from typing import TYPE_CHECKING, Any

import structlog

from escalatord.core import rendezvous
from escalatord.core.lease import LeaseTiming, fence_at
from escalatord.monitor import handover
from escalatord.monitor.runner import Monitor
from escalatord.notify.dispatcher import Dispatcher
from escalatord.store import nodes as node_rows
from escalatord.store.db import Store
from escalatord.store.watch import StoreWatch

if TYPE_CHECKING:
    from escalatord.config.model import Config

log = structlog.get_logger("escalatord.cluster")
MISMATCH_EVERY = 60.0  # a config that differs between live nodes is logged this often


class Cluster:
    """This node's part in the cluster. `take_back(alive)` returns the outbox claims of
    instances not in `alive` (notify/dispatcher.py `Dispatcher.take_back`)."""

    def __init__(
        self,
        store: Store,
        watch: StoreWatch,
        monitor: Monitor,
        *,
        timing: LeaseTiming,
        take_back: Callable[[Collection[str]], Awaitable[int]],
    ):
        self.store = store
        self.watch = watch
        self.monitor = monitor
        self.timing = timing
        self.take_back = take_back
        self.node = watch.node
        self.fenced = True  # until the first renewal succeeds, this node holds nothing
        self.live: list[str] = []  # names of the live nodes, this one included when not fenced
        self._instances: frozenset[str] = frozenset()
        self._renewed_at: float | None = None  # monotonic start of the last good renewal
        self._fence_timer: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()
        self._mismatch_logged = self._name_logged = -MISMATCH_EVERY
        self.mismatched: list[str] = []  # live nodes whose config hash differs from ours

    @property
    def active(self) -> bool:
        """Whether this node may probe, tick and send now."""
        return not self.fenced

    @property
    def owned(self) -> int:
        """How many checks this node runs now (its share)."""
        return len(self.monitor.owned or ())

    async def run(self) -> None:
        """Renew and re-read every `renew_every` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.timing.renew_every)
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cluster_refresh_failed")

    async def refresh(self) -> None:
        """One round: renew the lease, read the live nodes, apply the share if it changed."""
        async with self._lock:
            started = time.monotonic()
            try:
                async with asyncio.timeout(self.timing.lease):
                    renewed = await self.watch.beat()
            except TimeoutError:
                renewed = False
            self.watch.report()
            if renewed:
                self._renewed(started)
            if self.fenced:
                return
            try:
                async with asyncio.timeout(self.timing.lease), self.store.read() as conn:
                    now, rows = await node_rows.read(conn)
            except Exception as exc:  # out of reach: the fence decides, not this read
                log.warning("cluster_read_failed", error=type(exc).__name__)
                return
            if self.fenced:  # the fence fired while reading
                return
            live = [r for r in rows if r.live(now)]
            self._check_name(rows)
            await self._apply(sorted({r.name for r in live} | {self.node}), live)
            self._compare_configs(live)
            try:  # heartbeats pinged at other nodes, for the checks this node owns
                await handover.catch_up(self.monitor)
            except Exception:
                log.exception("passive_catch_up_failed")

    def _renewed(self, started: float) -> None:
        """A renewal that started at `started` succeeded: (re)arm the fence from it."""
        if self._renewed_at is not None and started < self._renewed_at:
            return
        self._renewed_at = started
        if self._fence_timer is not None:
            self._fence_timer.cancel()
        loop = asyncio.get_running_loop()
        # Both times are time.monotonic(): the fence is measured on the clock of the renewal.
        delay = fence_at(started, self.timing) - time.monotonic()
        self._fence_timer = loop.call_later(max(0.0, delay), self._fence)
        if self.fenced:
            self.fenced = False
            log.info("lease_held", node=self.node, lease=self.timing.lease)

    def _fence(self) -> None:
        """No renewal succeeded in time: stop probing, ticking and sending now."""
        self._fence_timer = None
        if self.fenced:
            return
        self.fenced = True
        silent_for = time.monotonic() - (self._renewed_at or 0.0)
        self._stand_down()
        log.error(
            "node_fenced",
            node=self.node,
            last_renewal_s=round(silent_for, 1),
            hint="the lease could not be renewed: this node stopped probing and sending "
            "before its lease lapses; the other nodes take its checks (docs/cluster.md)",
        )

    def _stand_down(self) -> None:
        """Run no check from now on (fenced): probes in flight are dropped by the runner."""
        for name in list(self.monitor.owned or ()):
            self.monitor.scheduler.remove(name)
        self.monitor.owned = set()
        self.live = []
        self._instances = frozenset()

    async def _apply(self, live: list[str], rows: Iterable[Any]) -> None:
        instances = frozenset(r.instance for r in rows) | {self.watch.instance}
        gone = self._instances - instances
        share = rendezvous.owned(self.monitor.checks, self.node, live)
        if live != self.live or share != (self.monitor.owned or set()):
            gained, lost = await handover.assign(self.monitor, share, self.timing.overdue_within)
            if self.fenced:  # the fence fired while the share was being taken: undo it
                self._stand_down()
                return
            if live != self.live:
                log.info(
                    "cluster_changed",
                    node=self.node,
                    live=live,
                    checks=len(share),
                    gained=len(gained),
                    lost=len(lost),
                )
            self.live = live
        first = not self._instances
        self._instances = instances
        if first or gone:  # a node's lease lapsed (or this node just joined): its claims
            try:
                await self.take_back(instances)
            except Exception:
                log.exception("take_back_failed")

    def _check_name(self, rows: Iterable[Any]) -> None:
        """Log loudly when another process renews this node's row (two nodes with one name
        would take each other's claims back and share one lease)."""
        ours = next((r for r in rows if r.name == self.node), None)
        now = time.monotonic()
        if ours is not None and ours.instance != self.watch.instance:
            if now - self._name_logged >= MISMATCH_EVERY:
                self._name_logged = now
                log.error(
                    "node_name_taken",
                    node=self.node,
                    hint="another escalatord renews this node's row: give every node its "
                    "own [cluster] node (docs/cluster.md)",
                )

    def _compare_configs(self, live: Iterable[Any]) -> None:
        """Log loudly (at most every MISMATCH_EVERY s) while live nodes run other configs."""
        ours = self.watch.config_hash
        self.mismatched = sorted(
            r.name for r in live if r.name != self.node and r.config_hash not in (None, ours)
        )
        now = time.monotonic()
        if self.mismatched and now - self._mismatch_logged >= MISMATCH_EVERY:
            self._mismatch_logged = now
            log.warning(
                "cluster_config_differs",
                node=self.node,
                config_hash=ours,
                differing=self.mismatched,
                hint="every node of a cluster must run the same config (but [cluster] node, "
                "[daemon] listen and database); copy it and reload (docs/cluster.md)",
            )

    async def leave(self) -> None:
        """Give up the lease (a graceful stop): the other nodes take this node's checks at
        their next look instead of after the lease lapses."""
        if self._fence_timer is not None:
            self._fence_timer.cancel()
            self._fence_timer = None
        self.fenced = True
        try:
            async with asyncio.timeout(self.timing.lease), self.store.write() as conn:
                await node_rows.release(conn, self.node, self.watch.instance)
        except Exception:
            log.warning("lease_release_failed", node=self.node)

    def metrics(self) -> Iterable[tuple[str, str, str, list[tuple[str, float]]]]:
        """/metrics: this node's name, its share, the live nodes, whether it is fenced."""
        label = self.node.replace("\\", "\\\\").replace('"', '\\"')
        yield (
            "escalatord_cluster_node",
            "gauge",
            "This node of the cluster ([cluster] node), always 1.",
            [(f'{{node="{label}"}}', 1)],
        )
        yield (
            "escalatord_cluster_checks_owned",
            "gauge",
            "Checks this node runs: its share by rendezvous hashing over the live nodes.",
            [("", self.owned)],
        )
        yield (
            "escalatord_cluster_nodes_live",
            "gauge",
            "Nodes whose lease holds, this one included, at this node's last look.",
            [("", len(self.live))],
        )
        yield (
            "escalatord_cluster_fenced",
            "gauge",
            "1 while this node has fenced itself (no lease: it probes and sends nothing).",
            [("", int(self.fenced))],
        )
        yield (
            "escalatord_cluster_config_differs",
            "gauge",
            "Live nodes whose config hash differs from this node's.",
            [("", len(self.mismatched))],
        )


# Keys that differ between the nodes of one cluster by design: they are left out of the hash.
PER_NODE = {"daemon": ("listen", "database"), "cluster": ("node",)}


def config_hash(config: Config) -> str:
    """A short hash of a validated config (config/model.py `Config`), the same on every node
    running the same config whatever its file's path: what nodes compare (store/nodes.py).
    Secrets count as masked (a changed password is not seen), per-node keys not at all."""
    data = config.model_dump(mode="json", exclude={"source", "rule_files"}, round_trip=True)
    for section, keys in PER_NODE.items():
        for key in keys:
            if isinstance(data.get(section), dict):
                data[section].pop(key, None)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return blake2b(text.encode(), digest_size=8).hexdigest()


def watch(store: Store, config: Config, *, instance: str) -> StoreWatch:
    """This run's StoreWatch: its node row named by `[cluster] node` (else the host name),
    with the config's hash, renewing a lease in a cluster."""
    cluster = config.cluster
    return StoreWatch(
        store,
        node=cluster.node if cluster else socket.gethostname(),
        instance=instance,
        config_hash=config_hash(config),
        lease=cluster.timing.lease if cluster else None,
    )


async def live_instances(watch: StoreWatch) -> set[str]:
    """The instances whose outbox claims must be left alone at start: this run's, and in a
    cluster those of the nodes whose lease holds (a single node's row holds no lease)."""
    alive = {watch.instance}
    if watch.lease is not None:
        async with watch.store.read() as conn:
            now, rows = await node_rows.read(conn)
        alive |= {r.instance for r in rows if r.live(now)}
    return alive


def load(monitor: Monitor) -> tuple[float, str | None]:
    """How far behind schedule `monitor` runs (s) and its overload in words (None: keeping
    up), for the node row: `escalatord nodes` shows an overloaded node's share."""
    problems = monitor.overload.problems()
    return round(monitor.scheduler.behind(), 3), (problems[0] if problems else None)


async def join(
    config: Config, watch: StoreWatch, monitor: Monitor, dispatcher: Dispatcher
) -> Cluster | None:
    """Make this daemon a node of a cluster (app.py, at start, before checks are scheduled),
    or nothing without `[cluster]` (None). The monitor runs no check and the engine and
    dispatcher do nothing while the node holds no lease; the first round renews it and
    takes this node's share. Either way the node row carries how far behind it runs."""
    watch.load = lambda: load(monitor)
    if config.cluster is None:
        await watch.beat()  # the row says how the node keeps up from the start
        return None
    monitor.owned = set()
    cluster = Cluster(
        watch.store,
        watch,
        monitor,
        timing=config.cluster.timing,
        take_back=lambda alive: dispatcher.take_back(alive=alive),
    )
    monitor.engine.active = dispatcher.active = lambda: cluster.active
    await cluster.refresh()
    return cluster


async def reconfigure(watch: StoreWatch, cluster: Cluster | None, config: Config) -> None:
    """A reload: the node row gets the new config's hash; in a cluster the share is worked
    out again at once (added or removed checks change every node's share)."""
    watch.config_hash = config_hash(config)
    if cluster is not None:
        await cluster.refresh()


async def leave(cluster: Cluster | None) -> None:
    """A graceful stop: a node of a cluster gives up its lease (see `Cluster.leave`)."""
    if cluster is not None:
        await cluster.leave()
