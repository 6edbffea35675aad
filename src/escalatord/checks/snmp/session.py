"""SNMP requests for checks: `SnmpTarget`, GET and walk, and what failures mean.

Every SNMP check of the process goes through one `SnmpSession` (engines.py), kept in the
`CheckContext` (`SnmpSession.of(context)`): one pysnmp `SnmpEngine`, so one UDP socket and one
0.1 s timer for all of them, and the CPU an engine costs on its first request is paid once. A
check holds an `SnmpTarget` (agent address, credentials, per-try timeout and retries) and awaits
`get()` or `walk()` on it; requests of different checks run concurrently on the event loop, so a
silent agent delays only its own checks. v1/v2c GETs skip pysnmp: they go through fast.py (one
shared socket, BER by hand; far less CPU: bench/RESULTS.md, 'SNMP v1/v2c fast path'), with the
same results and failures.

One engine can hold one set of SNMPv3 keys per user name: a second set gets an engine of its
own (engines.py).

Failures are raised as `SnmpFailure` (failures.py) carrying the status and summary a check
reports:

- no answer: critical, "no response from HOST:PORT after N tries", plus "(agent down or wrong
  community)" on v1/v2c, where an agent silently drops a wrong community. On v3 a silent agent
  is then asked for its engine ID (discovery.py): one whose engine ID changed is asked
  again at once under the new one;
- SNMPv3 credentials the agent refuses (unknown user, wrong digest, decryption error,
  unsupported security level; or an agent that answers engine discovery but never a request
  encrypted with our priv_key, which is what net-snmp does with a wrong priv_key): unknown,
  "SNMPv3 authentication failed: …". Unknown, not critical: the agent is up and answering,
  it is the monitoring that needs fixing;
- an error-status in the response: `MissingOid` for v1's noSuchName, else unknown naming the
  status. A missing object in a v2c/v3 response (noSuchObject, noSuchInstance, endOfMibView)
  is a value, left for the check to judge (`snmp_values.missing()`).
"""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pyasn1.type import univ
from pysnmp.proto import errind, rfc1902

from escalatord.checks.base import CheckContext
from escalatord.checks.hosts import ip_literal
from escalatord.checks.snmp.auth import AUTH_FAILURES, auth_data, fingerprint
from escalatord.checks.snmp.config import TICK, SnmpTargetConfig
from escalatord.checks.snmp.discovery import agent_engine_id, cached_engine_id, forget_peer
from escalatord.checks.snmp.engines import SnmpSession, pysnmp_hlapi
from escalatord.checks.snmp.failures import MissingOid, NoResponse, SnmpFailure
from escalatord.checks.snmp.fast import shared_fast_snmp
from escalatord.checks.snmp.mibnames import Oid, format_oid
from escalatord.checks.snmp.values import missing
from escalatord.checks.snmp.wire import varbind_list
from escalatord.core.status import Status

BULK_REPETITIONS = 25  # rows per GETBULK when walking: small enough for any agent's PDU size
MAX_WALK_ROWS = 100_000  # a walk longer than this is an agent looping, not a table


class SnmpTarget:
    """One check's agent: address, credentials, timeout and retries; GET and walk.

    v1/v2c GETs take escalatord's own lean path (fast.py); `fast=False` sends them
    through pysnmp like everything else, for tests and benchmarks that compare the two.
    """

    def __init__(self, config: SnmpTargetConfig, context: CheckContext, *, fast: bool = True):
        self.config = config
        self.context = context
        self._fast = fast and config.version != "3"
        self._wire: dict[tuple[Oid, ...], bytes] = {}  # encoded varbind lists, fast path
        community = config.community.get_secret_value() if config.community else ""
        self._community = _octets(community)
        self._auth: Any = None  # pysnmp's auth data: made when the pysnmp path is first used
        self._engine: Any = None
        self._transport: Any = None
        self._requests: dict[tuple[Oid, ...], list[Any]] = {}
        self._context = config.context.encode()
        self._literal = ip_literal(config.host)  # None: a name, resolved on every run

    @property
    def address(self) -> str:
        return self.config.address

    @property
    def tries(self) -> int:
        return self.config.request_retries + 1

    async def get(self, oids: Sequence[Oid]) -> list[tuple[Oid, Any]]:
        """GET `oids` in one request: (oid, value) in the same order. Raises SnmpFailure."""
        key = tuple(oids)
        if self._fast:
            return await self._fast_get(key)
        if key not in self._requests:  # encoded once per check, not per poll
            if len(self._requests) >= 4:  # an interface that moved: old indexes are done
                self._requests.clear()
            self._requests[key] = [(rfc1902.ObjectName(o), univ.Null("")) for o in key]
        reply = await self._send(_cmdgen().GetCommandGenerator(), self._requests[key])
        if len(reply[3]) != len(key):
            raise SnmpFailure(
                Status.UNKNOWN, f"the agent answered {len(reply[3])} values for {len(key)} OIDs"
            )
        return [(tuple(oid), value) for oid, value in reply[3]]

    async def _fast_get(self, key: tuple[Oid, ...]) -> list[tuple[Oid, Any]]:
        """`get()` through fast.py (v1/v2c): the same results and failures as pysnmp's."""
        varbinds = self._wire.get(key)
        if varbinds is None:  # encoded once per check, not per poll
            if len(self._wire) >= 4:  # an interface that moved: old indexes are done
                self._wire.clear()
            varbinds = self._wire[key] = varbind_list(key)
        cfg = self.config
        address = self._literal or await _resolve(cfg.host, cfg.port)
        try:
            client = shared_fast_snmp(self.context, 6 if ":" in address else 4)
        except OSError as exc:  # e.g. IPv6 disabled on this machine
            why = exc.strerror or str(exc)
            raise SnmpFailure(
                Status.UNKNOWN, f"SNMP request to {self.address} failed: no UDP socket: {why}"
            ) from None
        wait = math.ceil(cfg.try_timeout / TICK - 1e-9) * TICK  # pysnmp's ticks, same waits
        version = int(cfg.version == "2c")
        response = await client.get(
            address,
            cfg.port,
            version,
            self._community,
            varbinds,
            try_timeout=wait,
            tries=self.tries,
        )
        if response is None:
            raise NoResponse(Status.CRITICAL, f"{self._silence()} (agent down or wrong community)")
        if response.error_status:
            self._raise_status(response.error_name, response.error_index, key)
        if len(response.varbinds) != len(key):
            raise SnmpFailure(
                Status.UNKNOWN,
                f"the agent answered {len(response.varbinds)} values for {len(key)} OIDs",
            )
        return list(response.varbinds)

    async def walk(self, column: Oid) -> list[tuple[Oid, Any]]:
        """Every (oid, value) under `column`, in order: GETBULK on v2c/v3, GETNEXT on v1."""
        rows: list[tuple[Oid, Any]] = []
        current = column
        while len(rows) <= MAX_WALK_ROWS:
            request = [(rfc1902.ObjectName(current), univ.Null(""))]
            if self.config.version == "1":
                generator: Any = _cmdgen().NextCommandGeneratorSingleRun()
                reply = await self._send(generator, request, end_on_no_such_name=True)
            else:
                generator = _cmdgen().BulkCommandGeneratorSingleRun()
                reply = await self._send(generator, request, bulk=(0, BULK_REPETITIONS))
            if not reply[3]:
                return rows
            for raw_oid, value in reply[3]:
                oid = tuple(raw_oid)
                if oid[: len(column)] != column or missing(value) == "endOfMibView":
                    return rows
                if oid <= current:
                    raise SnmpFailure(
                        Status.UNKNOWN,
                        f"the agent returned OIDs out of order walking {format_oid(column)} "
                        f"({format_oid(oid)} after {format_oid(current)})",
                    )
                rows.append((oid, value))
                current = oid
        raise SnmpFailure(
            Status.UNKNOWN, f"walking {format_oid(column)} returned over {MAX_WALK_ROWS} rows"
        )

    async def _send(
        self,
        generator: Any,
        varbinds: list[Any],
        bulk: tuple[int, int] | None = None,
        end_on_no_such_name: bool = False,
    ) -> tuple[Any, Any, Any, Any]:
        """One request through pysnmp's command generators, with varbinds already encoded.

        hlapi's get_cmd/bulk_cmd would resolve every OID against a MIB view first, and with
        pysmi installed build a MIB compiler per engine (a long stall of the event loop).
        """
        oids = tuple(tuple(o) for o, _ in varbinds)
        if self._auth is None:
            self._auth = auth_data(self.config)
        for retry in (False, True):
            engine, transport = self._engine_now(), await self._transport_now()
            started = time.monotonic()
            reply = await _request(
                engine, self._auth, transport, self._context, generator, varbinds, bulk
            )
            if end_on_no_such_name and reply[1] and str(reply[1]) == "noSuchName":
                return (None, 0, 0, ())  # v1's way of saying "nothing after this"
            if isinstance(reply[0], errind.RequestTimedOut):
                if await self._no_response(engine, transport, started, retry):
                    continue  # the agent's engine ID changed: ask again under the new one
            self._raise_for(reply, oids)
            return reply
        raise AssertionError("unreachable: the second try returns or raises")

    async def close(self) -> None:
        """Give the engine back (an extra v3 engine closes with its last target)."""
        if self._engine is not None and self.config.user is not None:
            SnmpSession.of(self.context).release(self.config.user, fingerprint(self.config))
        self._engine = None

    def _engine_now(self) -> Any:
        if self._engine is None:
            session = SnmpSession.of(self.context)
            self._engine = session.acquire(self.config.user, fingerprint(self.config))
        return self._engine

    async def _transport_now(self) -> Any:
        if self._transport is not None and self._literal is not None:
            return self._transport
        cfg = self.config
        address = self._literal or await _resolve(cfg.host, cfg.port)
        hlapi = pysnmp_hlapi()
        cls = hlapi.Udp6TransportTarget if ":" in address else hlapi.UdpTransportTarget
        self._transport = await cls.create(
            (address, cfg.port), timeout=cfg.try_timeout, retries=cfg.request_retries
        )
        return self._transport

    def _raise_for(self, reply: Any, oids: tuple[Oid, ...]) -> None:
        indication, status, index = reply[0], reply[1], reply[2]
        cfg = self.config
        if indication:
            for kind, text in AUTH_FAILURES.items():
                if isinstance(indication, kind):
                    why = text.format(user=cfg.user, level=cfg.security_level)
                    raise SnmpFailure(Status.UNKNOWN, f"SNMPv3 authentication failed: {why}")
            raise SnmpFailure(
                Status.UNKNOWN, f"SNMP request to {self.address} failed: {indication}"
            )
        if status:
            name = str(status.prettyPrint() if hasattr(status, "prettyPrint") else status)
            self._raise_status(name, int(index), oids)

    @staticmethod
    def _raise_status(name: str, index: int, oids: tuple[Oid, ...]) -> None:
        """Raise the failure for a response's error-status `name` at error-index `index`."""
        position = index - 1
        oid = oids[position] if 0 <= position < len(oids) else None
        if name == "noSuchName" and oid is not None:
            raise MissingOid(oid)
        where = f" for {format_oid(oid)}" if oid is not None else ""
        raise SnmpFailure(Status.UNKNOWN, f"the agent answered {name}{where}")

    def _silence(self) -> str:
        tries = f"{self.tries} tries" if self.tries > 1 else "1 try"
        return f"no response from {self.address} after {tries}"

    async def _no_response(
        self, engine: Any, transport: Any, started: float, retried: bool
    ) -> bool:
        """Why the agent was silent: raises the failure to report, or returns True when the
        request should be sent again (the agent's SNMPv3 engine ID changed)."""
        cfg = self.config
        summary = self._silence()
        if cfg.version != "3":
            raise NoResponse(Status.CRITICAL, f"{summary} (agent down or wrong community)")
        left = cfg.timeout.total_seconds() - (time.monotonic() - started) - 0.1
        wait = min(1.0, cfg.try_timeout, left)
        host, port = transport.transport_address[:2]
        agent_id = await agent_engine_id(host, port, wait) if wait >= 0.1 else None
        if agent_id is None:
            raise NoResponse(Status.CRITICAL, summary)
        domain = transport.TRANSPORT_DOMAIN
        cached = cached_engine_id(engine, domain, (host, port))
        if not retried and agent_id and cached is not None and agent_id != cached:
            if forget_peer(engine, domain, (host, port)):
                return True
        if cfg.priv_key is not None:
            # net-snmp drops a request it cannot decrypt, without a report.
            raise SnmpFailure(
                Status.UNKNOWN,
                f"SNMPv3 authentication failed: {self.address} answers engine discovery but "
                f"not requests encrypted with priv_key: priv_key or priv_protocol is probably "
                f"wrong for user {cfg.user!r}",
            )
        raise NoResponse(Status.CRITICAL, f"{summary}, though it answers engine discovery")


async def _request(
    engine: Any,
    auth: Any,
    transport: Any,
    context: bytes,
    generator: Any,
    varbinds: list[Any],
    bulk: tuple[int, int] | None,
) -> tuple[Any, Any, Any, Any]:
    """Send one PDU and await pysnmp's callback: (indication, status, index, varbinds)."""
    from pysnmp.hlapi.v3arch.asyncio.cmdgen import LCD

    address, _ = LCD.configure(engine, auth, transport, context)
    future: asyncio.Future[tuple[Any, Any, Any, Any]] = asyncio.get_running_loop().create_future()

    def done(*args: Any) -> None:  # (engine, handle, indication, status, index, varbinds, ctx)
        if not future.done():  # cancelled by the check's hard timeout: nobody waits
            future.set_result((args[2], args[3], args[4], args[5]))

    generator.send_varbinds(engine, address, None, context, *(bulk or ()), varbinds, done)
    return await future


async def _resolve(host: str, port: int) -> str:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise SnmpFailure(Status.CRITICAL, f"DNS lookup failed for {host}: {reason}") from None
    return str(infos[0][4][0])


@lru_cache(maxsize=256)
def _octets(community: str) -> bytes:
    """A community as pysnmp encodes it; cached: thousands of checks share a few, and
    pyasn1 is slow enough per value to show in start-up (bench/RESULTS.md, 'Issue 6: start-up
    under 2 s')."""
    return rfc1902.OctetString(community).asOctets()


def _cmdgen() -> Any:
    from pysnmp.entity.rfc3413 import cmdgen

    return cmdgen
