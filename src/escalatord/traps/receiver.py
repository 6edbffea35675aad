"""The SNMP v1/v2c trap listener: pysnmp's asyncio UDP transport and NotificationReceiver.

`bind()` takes the UDP port before anything else starts, so a taken or privileged port is a
clear startup error naming `[traps] listen`. `start()` builds a pysnmp engine of its own
(the communities it accepts must not mix with the ones SNMP polling uses), and every accepted
trap is decoded into plain text and queued; one task takes traps off the queue, maps them
(`mapping.route`, pure) and feeds the results through `Monitor.on_passive()`.

pysnmp drops a trap whose community is not configured (counted here, and logged at most once
a minute); v1 traps reach us converted to the v2c form (RFC 3584); a v2c inform is answered.
The queue is bounded: in a storm the excess is dropped and counted, never buffered without
limit, and the loop keeps serving the API and the checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import structlog

from escalatord.errors import EscalatordError
from escalatord.monitor import relayed
from escalatord.traps.check import SnmpTrapCheck, SnmpTrapConfig, canonical_address
from escalatord.traps.config import TrapsConfig
from escalatord.traps.mapping import Interface, decode, route
from escalatord.traps.oids import LINK_DOWN, LINK_UP

if TYPE_CHECKING:
    from escalatord.checks.base import Check, CheckConfig
    from escalatord.monitor.runner import Monitor

log = structlog.get_logger("escalatord.traps")
_debug = logging.getLogger("escalatord.traps")

RECEIVE_BUFFER = 4 << 20  # bytes asked for the socket's receive buffer
QUEUE_SIZE = 10_000  # traps waiting to be mapped; more are dropped (and counted)
YIELD_EVERY = 50  # traps mapped before the loop gets a turn, in a storm
WARN_EVERY = 60.0  # seconds between warnings about traps with an unknown community
RESOLVE_TIMEOUT = 5.0  # seconds for looking up an snmp_interface host given by name
INTERFACE_TYPE = "snmp_interface"


def bind(config: TrapsConfig) -> socket.socket:
    """The receiver's UDP socket, bound now; EscalatordError naming `[traps] listen` and a fix."""
    host, port = config.listen_host, config.listen_port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    # Room for a burst (a storm of linkDowns when a switch reboots); the kernel caps it at
    # net.core.rmem_max. No SO_REUSEADDR: a port another receiver holds must be an error.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EACCES and port < 1024:
            hint = (
                f"port {port} needs privilege: give the daemon CAP_NET_BIND_SERVICE "
                "(AmbientCapabilities= in its systemd unit), or listen on a high port such as "
                "1162 and redirect 162 to it in the firewall (docs/traps.md)"
            )
        elif exc.errno == errno.EADDRINUSE:
            hint = "another program (snmptrapd?) uses that port; stop it or pick another port"
        elif exc.errno == errno.EADDRNOTAVAIL:
            hint = 'that address is not on this machine; use one of its addresses or "0.0.0.0"'
        else:
            hint = "check the address and port"
        raise EscalatordError(
            f"cannot listen for SNMP traps on {config.listen}: {exc.strerror}; {hint}. "
            "Change [traps] listen"
        ) from None
    sock.setblocking(False)
    return sock


def receiver_for(config: TrapsConfig | None) -> TrapReceiver | None:
    """A receiver with its port bound, or None when `[traps]` is absent or disabled."""
    if config is None or not config.enabled:
        return None
    receiver = TrapReceiver(config)
    receiver.bind()
    return receiver


def unheard(checks: Iterable[CheckConfig], config: TrapsConfig | None) -> list[str]:
    """Enabled snmp_trap checks that nothing feeds, because no trap receiver runs."""
    if config is not None and config.enabled:
        return []
    return [c.name for c in checks if c.enabled and isinstance(c, SnmpTrapConfig)]


class TrapReceiver:
    """Receives traps on `config.listen` and feeds what they mean to `monitor`."""

    def __init__(self, config: TrapsConfig):
        self.config = config
        self.monitor: Monitor | None = None
        self.counts: Counter[str] = Counter()  # received, dropped_*, unmatched, applied, relayed
        self.sock: socket.socket | None = None
        self._queue: asyncio.Queue[tuple[str, list[tuple[str, str]]]] = asyncio.Queue(QUEUE_SIZE)
        self._engine: Any = None
        self._receiver: Any = None
        self._communities: tuple[str, ...] = ()
        self._task: asyncio.Task[None] | None = None
        self._resolving: asyncio.Task[None] | None = None
        self._trap_checks: dict[str, list[SnmpTrapConfig]] = {}
        self._interfaces: dict[str, list[Check]] = {}
        self._warned_at = -WARN_EVERY
        self._unwarned = 0

    def bind(self) -> None:
        self.sock = bind(self.config)

    async def start(self, monitor: Monitor) -> None:
        """Start receiving on the bound socket (`bind()` first), feeding `monitor`'s checks."""
        assert self.sock is not None, "bind() first"
        self.monitor = monitor
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pysmi 2 makes pysnmp warn about deprecations
            from pysnmp.carrier.asyncio.dgram import udp, udp6
            from pysnmp.entity import config as snmp_config
            from pysnmp.entity import engine
            from pysnmp.entity.rfc3413 import ntfrcv

        self._engine = engine.SnmpEngine()
        if self.sock.family == socket.AF_INET6:
            domain, transport = udp6.DOMAIN_NAME, udp6.Udp6Transport()
        else:
            domain, transport = udp.DOMAIN_NAME, udp.UdpTransport()
        transport.open_server_mode(sock=self.sock)
        snmp_config.add_transport(self._engine, domain, transport)
        self._set_communities(self.config.community_values())
        self._engine.observer.register_observer(
            self._refused, "rfc2576.prepareDataElements:sm-failure"
        )
        self._receiver = ntfrcv.NotificationReceiver(self._engine, self._received)
        self._task = asyncio.create_task(self._consume(), name="traps")
        self.remap(monitor.checks, self.config)
        # pysnmp attaches the socket to the loop in a task of its own: wait until it has.
        for _ in range(1000):
            if transport.transport is not None:
                break
            await asyncio.sleep(0.005)
        log.info("traps_listening", listen=self.config.listen)

    async def stop(self) -> None:
        """Stop receiving; traps still queued are dropped (their senders do not retry)."""
        for task in (self._task, self._resolving):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._engine is not None:
            with contextlib.suppress(Exception):
                self._receiver.close(self._engine)
            with contextlib.suppress(Exception):
                self._engine.close_dispatcher()
            self._engine = None
        if self.sock is not None:
            self.sock.close()

    def remap(self, checks: Mapping[str, Check], config: TrapsConfig) -> None:
        """Use `checks` and the communities of `config` from now on (start and reload)."""
        assert self.monitor is not None, "start() first"
        self.config = config
        self._set_communities(config.community_values())
        now = self.monitor.clock()
        trap_checks: dict[str, list[SnmpTrapConfig]] = defaultdict(list)
        interfaces: dict[str, list[Check]] = defaultdict(list)
        by_name: dict[str, list[Check]] = defaultdict(list)  # several ports of one switch
        for name, check in checks.items():
            if isinstance(check, SnmpTrapCheck):
                check.resume(self.monitor.states.get(name), now)
                trap_checks[check.config.host].append(check.config)
            elif check.config.type == INTERFACE_TYPE:
                host = _host_of(check)
                address = canonical_address(host) if host else None
                if address is not None:
                    interfaces[address].append(check)
                elif host:
                    by_name[host].append(check)
        self._trap_checks, self._interfaces = dict(trap_checks), dict(interfaces)
        if self._resolving is not None:
            self._resolving.cancel()
            self._resolving = None
        if by_name:
            self._resolving = asyncio.create_task(
                self._resolve(dict(by_name)), name="traps:resolve"
            )

    async def _resolve(self, by_name: dict[str, list[Check]]) -> None:
        """Add snmp_interface checks given by host name under the addresses the name has."""
        loop = asyncio.get_running_loop()
        for host, named in by_name.items():
            try:
                async with asyncio.timeout(RESOLVE_TIMEOUT):
                    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
            except (OSError, TimeoutError) as exc:
                log.warning(
                    "trap_host_unresolved",
                    checks=[c.name for c in named],
                    host=host,
                    error=str(exc) or type(exc).__name__,
                    hint="linkDown/linkUp traps cannot be matched to this check until a reload",
                )
                continue
            for address in {canonical_address(str(info[4][0])) for info in infos}:
                if address is not None:
                    self._interfaces.setdefault(address, []).extend(named)

    def _set_communities(self, wanted: tuple[str, ...]) -> None:
        if wanted == self._communities:
            return
        from pysnmp.entity import config as snmp_config

        for index in range(len(self._communities)):
            snmp_config.delete_v1_system(self._engine, f"escalatord-{index}")
        for index, community in enumerate(wanted):
            snmp_config.add_v1_system(self._engine, f"escalatord-{index}", community)
        self._communities = wanted

    def metrics(self) -> list[tuple[str, str, str, list[tuple[str, float]]]]:
        """(name, type, help, samples) for /metrics."""
        counts = self.counts
        dropped = ("community", "overflow", "malformed", "other")
        return [
            (
                "escalatord_traps_packets_total",
                "counter",
                "SNMP messages read on the trap port (pysnmp's snmpInPkts): also those dropped "
                "without a count of their own (SNMPv3, undecodable).",
                [("", self._packets())],
            ),
            (
                "escalatord_traps_received_total",
                "counter",
                "SNMP notifications accepted (a configured community, a trap OID).",
                [("", counts["received"])],
            ),
            (
                "escalatord_traps_dropped_total",
                "counter",
                "SNMP messages dropped: unknown community, queue full in a storm, not a "
                "notification, or refused by pysnmp for another reason.",
                [(f'{{reason="{r}"}}', counts[f"dropped_{r}"]) for r in dropped],
            ),
            (
                "escalatord_traps_unmatched_total",
                "counter",
                "Accepted traps that no check maps to.",
                [("", counts["unmatched"])],
            ),
            (
                "escalatord_traps_applied_total",
                "counter",
                "Check results fed from traps.",
                [("", counts["applied"])],
            ),
            (
                "escalatord_traps_relayed_total",
                "counter",
                "Check results from traps kept for the node of the cluster that owns the check.",
                [("", counts["relayed"])],
            ),
        ]

    def _packets(self) -> int:
        if self._engine is None:
            return 0
        try:
            builder = self._engine.get_mib_builder()
            (packets,) = builder.import_symbols("__SNMPv2-MIB", "snmpInPkts")
            return int(packets.syntax)
        except Exception:  # a figure for /metrics must never break it
            return 0

    # ---- pysnmp callbacks (inside its datagram handling: quick, and never raising) --------

    def _refused(self, _engine: Any, _point: str, variables: dict[str, Any], _ctx: Any) -> None:
        try:
            from pysnmp.proto import errind

            status = variables.get("statusInformation") or {}
            if not isinstance(status.get("errorIndication"), errind.UnknownCommunityName):
                self.counts["dropped_other"] += 1
                return
            self.counts["dropped_community"] += 1
            self._unwarned += 1
            now = time.monotonic()
            if now - self._warned_at >= WARN_EVERY:
                address = variables.get("transportAddress")
                log.warning(
                    "trap_dropped",
                    reason="unknown community",
                    source=str(address[0]) if address else None,
                    count=self._unwarned,
                    hint="add the sender's community to [traps] communities",
                )
                self._warned_at, self._unwarned = now, 0
        except Exception:  # a counter must never break pysnmp's receive path
            log.debug("trap_refusal_not_counted", exc_info=True)

    def _received(
        self, engine: Any, state: Any, _engine_id: Any, _context: Any, varbinds: Any, _ctx: Any
    ) -> None:
        try:
            _domain, address = engine.message_dispatcher.get_transport_info(state)
            pairs = [(str(oid), value.prettyPrint()) for oid, value in varbinds]
            self._queue.put_nowait((str(address[0]), pairs))
        except asyncio.QueueFull:
            self.counts["dropped_overflow"] += 1
        except Exception:
            self.counts["dropped_malformed"] += 1
            log.debug("trap_not_decoded", exc_info=True)

    # ---- mapping ----------------------------------------------------------------------------

    async def _consume(self) -> None:
        handled = 0
        while True:
            source, pairs = await self._queue.get()
            try:
                await self._handle(source, pairs)
            except asyncio.CancelledError:
                raise
            except Exception:  # one odd trap must not stop the receiver
                log.exception("trap_handling_failed", source=source)
            handled += 1
            if handled % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a storm must not keep the loop from the API

    async def _handle(self, source: str, pairs: list[tuple[str, str]]) -> None:
        assert self.monitor is not None
        trap = decode(source, pairs)
        if trap is None:
            self.counts["dropped_malformed"] += 1
            if _debug.isEnabledFor(logging.DEBUG):
                log.debug("trap_not_a_notification", source=source)
            return
        self.counts["received"] += 1
        trap_checks = [c for a in trap.sources for c in self._trap_checks.get(a, ())]
        interfaces: dict[str, Interface] = {}
        if trap.oid in (LINK_DOWN, LINK_UP):
            for address in trap.sources:
                for check in self._interfaces.get(address, ()):
                    interfaces.setdefault(check.name, _interface(check, address))
        feeds = route(trap, trap_checks, interfaces.values(), self.monitor.clock())
        if not feeds:
            # Debug only: a storm of traps nobody configured must not flood the log (nor cost
            # the processing of a log line that is dropped anyway).
            self.counts["unmatched"] += 1
            if _debug.isEnabledFor(logging.DEBUG):
                log.debug("trap_unmatched", source=trap.source, oid=trap.oid)
            return
        for feed in feeds:
            if not self.monitor.owns(feed.check):
                # Another node of the cluster judges this check: it applies the trap from the
                # store at its next catch-up round (monitor/relayed.py).
                now = self.monitor.clock()
                await relayed.hand_on(self.monitor.store, feed.check, feed.result, feed.params, now)
                self.counts["relayed"] += 1
                continue
            check = self.monitor.checks.get(feed.check)
            if isinstance(check, SnmpTrapCheck):
                check.noted(feed.result)
            await self.monitor.on_passive(feed.check, (feed.result, feed.params))
            self.counts["applied"] += 1  # not logged: a change of state is, by the engine


def _host_of(check: Check) -> str | None:
    host = getattr(check, "host", None) or getattr(check.config, "host", None)
    return host if isinstance(host, str) else None


def _interface(check: Check, address: str) -> Interface:
    """The check as mapping sees it, now (its ifIndex may have been resolved since)."""
    index = getattr(check, "if_index", None)
    return Interface(
        name=check.name,
        addresses=frozenset({address}),
        if_index=index if isinstance(index, int) else None,
        retry_interval=check.config.retry_interval,
    )
