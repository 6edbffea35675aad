"""Composition root: a Config becomes a store, checks, notifiers, scheduler, engine and API.

Nothing is global: every object is built here from the config and handed what it needs.
`App.reload()` applies a new config without dropping state: check jobs are added, removed
or replaced, notifiers swapped, rules and policies take effect for new incidents.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import uuid
from typing import Any

import structlog
import uvicorn
from starlette.applications import Starlette

from escalatord import plugins, serving
from escalatord.api import ack, confirm, ingest, listings, silences
from escalatord.api.app import ApiServices, HealthSources, MetricSources
from escalatord.api.app import build as build_api
from escalatord.api.connections import ConnectionGuard, warn_if_few_files
from escalatord.calendar.handoffs import Recipient, Rota
from escalatord.calendar.jobs import Calendar, Plan
from escalatord.calendar.quiet import QuietJobs
from escalatord.checks.base import Check, CheckConfig, CheckContext
from escalatord.checks.ping.icmp_mode import mode_of, pings
from escalatord.config.model import Config
from escalatord.console import app as console
from escalatord.console import sessions as console_sessions
from escalatord.console.services import ConsoleServices
from escalatord.core.shadowing import shadow_warnings
from escalatord.errors import EscalatordError
from escalatord.escalation.engine import Engine
from escalatord.heartbeats import endpoint as heartbeat
from escalatord.monitor import cluster as node
from escalatord.monitor.probes import ProbePool
from escalatord.monitor.runner import Monitor
from escalatord.notify.base import Notifier, NotifierConfig
from escalatord.notify.dispatcher import Dispatcher
from escalatord.notify.links import AckLinks, stored_key
from escalatord.satellite import central as satellites
from escalatord.store.db import Store
from escalatord.traps.receiver import TrapReceiver, receiver_for, unheard

log = structlog.get_logger("escalatord.app")


def build_check(config: CheckConfig, context: CheckContext) -> Check:
    return plugins.load("checks", satellites.check_type(config))(config, context)


def build_notifier(config: NotifierConfig) -> Notifier:
    return plugins.load("notifiers", config.type)(config)


class App:
    def __init__(self, config: Config):
        self.config = config
        self.store = Store(config.daemon.database)
        self.context = CheckContext(icmp_privileged=config.daemon.icmp_privileged)
        self._tasks: list[asyncio.Task[Any]] = []
        self._server: serving.Server | None = None
        self.traps: TrapReceiver | None = None  # [traps]: the SNMP trap receiver
        self.probes: ProbePool | None = None  # [daemon] probe_workers: worker processes
        # The API's header deadline and connection cap (api/connections.py), changed by reload.
        self.connections = ConnectionGuard(
            config.daemon.header_timeout.total_seconds(), config.daemon.max_connections
        )

    async def start(self) -> None:
        """Open the store (migrating it), build everything, start checks, ticks and the API."""
        config = self.config
        listener = serving.bind(config.daemon.listen_host, config.daemon.listen_port)
        try:
            self.traps = receiver_for(config.traps)  # SNMP traps: its UDP port is bound now too
            await self.store.open()
        except BaseException:
            listener.close()
            if self.traps is not None:
                await self.traps.stop()
            raise
        self.notifiers = {n.name: build_notifier(n) for n in config.notifiers}
        # Ack links are signed with one key for the daemon's life; the API verifies with it.
        links = AckLinks(self.store, lambda: self.config.daemon)
        # This run of the daemon: its node row (the write probe; a cluster's lease), its claims.
        self.watch = node.watch(self.store, config, instance=uuid.uuid4().hex)
        self.dispatcher = Dispatcher(
            self.store, self.notifiers, links=links, owner=self.watch.instance
        )
        await self._take_over()
        self.engine = Engine(self.store, config, wake=self.dispatcher.wake)
        # A page that reached nobody pages the next level from the dispatcher: it resolves
        # that level's persons, teams and schedules as the engine does.
        self.dispatcher.resolver = self.engine.resolver
        checks = {c.name: build_check(c, self.context) for c in config.checks if c.enabled}
        self.monitor = Monitor(self.store, self.engine, checks)
        await self.monitor.load()
        self.cluster = await node.join(config, self.watch, self.monitor, self.dispatcher)
        # Decided once for the daemon, by opening the sockets; its probe workers get the same.
        icmp = mode_of(self.context)
        if not icmp.usable and pings(config.checks):
            log.warning("icmp_unavailable", icmp=icmp.name, problem=icmp.problem())
        if config.daemon.probe_workers:  # active checks run in worker processes
            self.probes = ProbePool(
                config.daemon.probe_workers,
                icmp_mode=icmp,
                log_level=config.daemon.log_level,
            )
            await self.probes.start(_probed(checks))
            self.monitor.probes = self.probes
        # Jobs added before start() are not each handed to a running loop: a large config
        # starts fast (bench/RESULTS.md, "Daemon under load: `checks.py`", finding 4).
        self.monitor.schedule(config.checks)
        self.monitor.scheduler.start()
        # Retention and handoff notices: APScheduler jobs in this loop (calendar/jobs.py).
        self.calendar = Calendar(self.store, calendar_plan(config), wake=self.dispatcher.wake)
        self.calendar.start()
        # Maintenance windows and silences: a job at each end pages what still fails, and the
        # first run (now) what a quiet time that ended while the daemon was down held back.
        view, store = self.engine.quiet, self.store
        quiet = QuietJobs(self.calendar, lambda now: view.read(store, now), self.engine.release,
                          lambda at, edge, what: view.note(store, at, edge, what))  # fmt: skip
        quiet.start()
        # SNMP traps: received once the monitor runs; snmp_trap checks without them never change.
        if self.traps is not None:
            await self.traps.start(self.monitor)
        if silent := unheard(config.checks, config.traps):
            log.warning("traps_not_received", checks=silent, hint="add [traps] (docs/traps.md)")
        _warn_rules(config)
        warn_if_few_files(config.daemon.max_connections)
        self._server = serving.Server(
            uvicorn.Config(
                self._api(),
                host=config.daemon.listen_host,
                port=config.daemon.listen_port,
                lifespan="off",
                ws="none",  # no websocket routes: their implementations are not imported
                http=self.connections.protocol(),
                access_log=False,
                log_config=None,
                server_header=False,
            )
        )
        for coro, name in (
            (self.dispatcher.run(), "dispatcher"),
            (self.engine.run(), "engine"),
            (self.monitor.flush_loop(), "flush"),
            (self.cluster.run() if self.cluster else self.watch.run(), "store-watch"),
            (self._server.serve(sockets=[listener]), "api"),
        ):
            self._tasks.append(asyncio.create_task(coro, name=name))
        await self._wait_api_started()
        settle_heap(collect=False)
        log.info("started", **_counts(config), listen=config.daemon.listen, icmp=icmp.name)

    def _api(self) -> Starlette:
        """The HTTP API, each route module handed only what it uses (api/app.py).

        Objects built once by start() are handed over as they are; the config is read through
        `self` on every request instead, because reload() replaces it."""
        links = self.dispatcher.links
        assert links is not None, "start() gives the dispatcher its AckLinks"
        services = ApiServices(
            health=HealthSources(store=self.store, monitor=self.monitor, probes=self.probes),
            metrics=self.metric_sources(),
            ingest=ingest.IngestServices(
                submit=self.engine.on_alerts, tokens=lambda: self.config.api
            ),
            listings=listings.ListingServices(
                store=self.store,
                held=self.monitor,
                tokens=lambda: self.config.api,
                checks=lambda: self.config.checks,
                quiet=lambda now: self.engine.quiet.read(self.store, now),
            ),
            ack=ack.AckServices(links=links, store=self.store, wake=self.dispatcher.wake),
            silences=silences.SilenceServices(store=self.store, tokens=lambda: self.config.api),
            confirm=confirm.ConfirmServices(key=links.key, store=self.store),
        )
        heartbeats = heartbeat.HeartbeatServices(
            monitor=self.monitor,
            store=self.store,
            configured=lambda name: self.config.check_by_name.get(name),
        )
        # Heartbeats and the console sit above the API (they use its token helpers and read
        # paths): their routes are passed in. The console's key is kept in `ack_keys` too.
        extra = heartbeat.routes(heartbeats)
        extra += satellites.routes(self.monitor, lambda: self.config)  # docs/satellites.md
        if self.config.web.enabled:  # [web]: decided at start (docs/console.md)
            key = functools.partial(stored_key, self.store, console_sessions.KEY_NAME)
            web = ConsoleServices(services.listings, config=lambda: self.config, stored_key=key,
                                  writer=self.store, wake=self.dispatcher.wake,
                                  resolver=self.engine.resolver)  # fmt: skip
            extra = [*extra, *console.routes(web)]
        return build_api(services, extra_routes=extra)

    def metric_sources(self) -> MetricSources:
        """What GET /metrics reports, from this started App (tests read it too)."""
        optional = [part for part in (self.probes, self.traps, self.cluster) if part is not None]
        return MetricSources(
            monitor=self.monitor,
            dispatcher=self.dispatcher,
            store_health=self.store.health,
            families=(*optional, self.connections, self.engine.quiet),
        )

    async def _take_over(self) -> None:
        """Write this node's row, then send at once what a dead predecessor was sending.

        Neither stops the start when the database refuses writes: /healthz says why, and
        the claims are then taken when their leases run out, as before."""
        await self.watch.beat()
        self.watch.report()
        try:
            await self.dispatcher.take_back(alive=await node.live_instances(self.watch))
        except Exception:
            log.exception("take_back_failed")

    async def _wait_api_started(self) -> None:
        assert self._server is not None
        api = self._tasks[-1]
        while not self._server.started:
            if api.done():
                api.result()
                raise EscalatordError(f"the HTTP API on {self.config.daemon.listen} stopped")
            await asyncio.sleep(0.01)

    async def reload(self, new: Config) -> None:
        """Apply a validated config. Settings that need a restart are named in the log."""
        old = self.config
        keys = ("daemon.database", "daemon.listen", "daemon.icmp_privileged",
                "daemon.probe_workers", "web.enabled")  # fmt: skip
        for key in keys:
            section, name = key.split(".")
            if getattr(getattr(old, section), name) != getattr(getattr(new, section), name):
                log.warning(
                    "restart_needed",
                    key=key,
                    hint="this setting takes effect after a restart",
                )
        self.connections.header_timeout = new.daemon.header_timeout.total_seconds()
        self.connections.max_connections = new.daemon.max_connections
        old_notifiers = self.notifiers
        notifiers = {}
        for cfg in new.notifiers:
            kept = old_notifiers.get(cfg.name)
            notifiers[cfg.name] = kept if kept and kept.config == cfg else build_notifier(cfg)
        checks = {}
        for cfg in new.checks:
            if not cfg.enabled:
                continue
            kept = self.monitor.checks.get(cfg.name)
            checks[cfg.name] = (
                kept if kept and kept.config == cfg else build_check(cfg, self.context)
            )
        dropped_checks = [c for n, c in self.monitor.checks.items() if checks.get(n) is not c]
        dropped_notifiers = [x for n, x in old_notifiers.items() if notifiers.get(n) is not x]
        self.config = new
        self.notifiers = notifiers
        self.dispatcher.replace_notifiers(notifiers)
        self.engine.update_config(new)
        self.monitor.replace_checks(checks)
        if self.probes is not None:  # before any run of a new or changed check is sent
            self.probes.configure(_probed(checks))
        self._reload_traps(old, new)
        self.calendar.configure(calendar_plan(new))
        # Replaced checks restart on their (possibly new) interval; unchanged ones keep theirs.
        for check in dropped_checks:
            self.monitor.scheduler.remove(check.name)
        await node.reconfigure(self.watch, self.cluster, new)  # the config's hash, the share
        self.monitor.schedule(new.checks)
        for obj in (*dropped_checks, *dropped_notifiers):
            with contextlib.suppress(Exception):
                await obj.close()
        settle_heap()
        _warn_rules(new)
        log.info("reloaded", **_counts(new))

    def _reload_traps(self, old: Config, new: Config) -> None:
        """SNMP traps: checks and communities apply at once; the socket only at a restart."""

        def listen(config: Config) -> str | None:
            return config.traps.listen if config.traps and config.traps.enabled else None

        if listen(old) != listen(new):
            log.warning(
                "restart_needed",
                key="traps.listen",
                hint="this setting takes effect after a restart",
            )
        if self.traps is not None:
            self.traps.remap(self.monitor.checks, new.traps or self.traps.config)

    async def stop(self, grace: float) -> None:
        """Graceful stop: no new runs, drain checks and sends in flight, flush states."""
        if self.traps is not None:  # SNMP traps: none are taken in while stopping
            await self.traps.stop()
        cut = await self.monitor.scheduler.shutdown(grace)
        if cut:
            log.warning("checks_cut_short", count=cut)
        await self.calendar.stop(grace)  # before the dispatcher drains: notices go out now
        await self.dispatcher.drain(grace)  # a send cut short is sent again after restart
        if self._server is not None:
            self._server.should_exit = True
        for task in self._tasks:
            if task.get_name() != "api":
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self.monitor.flush()
        except Exception:
            log.exception("final_flush_failed")
        await node.leave(self.cluster)  # after the flush: the next owners read these states
        for obj in (*self.monitor.checks.values(), *self.notifiers.values()):
            with contextlib.suppress(Exception):
                await obj.close()
        if self.probes is not None:  # after the drain above: no probe is waiting on them
            await self.probes.close(grace)
        await self.context.aclose()
        await self.store.close()
        log.info("stopped")


def settle_heap(*, collect: bool = True) -> None:
    """Move what start-up or reload built (configs, checks, jobs) out of the GC's reach.

    With a large config a full collection walks every long-lived object and stalls the loop
    about once a minute (bench/RESULTS.md, "Daemon under load: `checks.py`", finding 3);
    frozen, they are never scanned. A reload collects first, so the replaced config's objects
    are not frozen with the rest; start-up leaves no cyclic garbage worth a collection (none
    found, and the collection cost time: "Issue 6: start-up under 2 s"). Collection is
    (re-)enabled: `escalatord run` turns it off while it starts (cli.py).
    """
    if collect:
        gc.collect()
    gc.freeze()
    gc.enable()


def calendar_plan(config: Config) -> Plan:
    """The calendar's jobs from `config`: the retention, and each schedule with
    `handoff_notice = true` with the first contact of every person (overrides at run time may
    name anyone, not only the schedule's members)."""
    recipients = {
        p.name: Recipient(p.name, p.full_name, p.contacts[0].notifier, p.contacts[0].to)
        for p in config.persons
        if p.contacts
    }
    rotas = tuple(Rota(s.rota(), recipients) for s in config.schedules if s.handoff_notice)
    return Plan(retention=config.daemon.retention, rotas=rotas)


def _probed(checks: dict[str, Check]) -> list[CheckConfig]:
    """Configs of the checks probe workers run: active ones (passive checks have no probe)."""
    return [c.config for c in checks.values() if c.kind == "active"]


def _warn_rules(config: Config) -> None:
    """Log each rule that can never match, as `escalatord check-config` prints it."""
    for problem in shadow_warnings(config):
        log.warning("rule_never_matches", problem=problem)


def _counts(config: Config) -> dict[str, int]:
    return {
        "checks": len(config.checks),
        "rules": len(config.rules),
        "policies": len(config.policies),
        "notifiers": len(config.notifiers),
    }
