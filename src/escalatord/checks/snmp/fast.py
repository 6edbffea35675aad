"""SNMP v1/v2c GETs through one UDP socket per process and address family.

pysnmp spends much CPU on every GET (its message-processing and security models and pyasn1
objects), once the larger part of the daemon's CPU in a mixed ping/HTTP/SNMP load
(bench/RESULTS.md, 'SNMP v1/v2c fast path'). A poll is almost always a v1/v2c GET, so those go
here: BER by hand (wire.py) and, as for ping (checks/ping/pinger.py), one non-blocking socket
read by a single reader callback on the event loop, matching each reply to the request waiting
for it. v3, walks and traps stay with pysnmp.

A reply is taken only when it comes from the address and port the request went to, carries
the request's request-id, and has its version and community; anything else (a stray or late
datagram, a spoofed answer, a malformed packet) is dropped, and the request keeps waiting.
Every try of one request is sent with the same request-id, so a late answer to the first try
still completes it. Timers, not tasks, drive the tries: a GET costs no task of its own.
"""

from __future__ import annotations

import asyncio
import random
import socket
from typing import Literal

from escalatord.checks.base import CheckContext
from escalatord.checks.hosts import normalize
from escalatord.checks.loopsocket import LoopSocket
from escalatord.checks.snmp.wire import Response, WireError, decode_response, get_request

Family = Literal[4, 6]

_BATCH = 512  # datagrams read per wake-up before yielding to the loop
_RCVBUF = 4 << 20  # bursts of replies need room; the kernel caps this at net.core.rmem_max
_MAX_DATAGRAM = 65535


class _Waiter:
    __slots__ = ("address", "community", "future", "message", "timer", "tries_left", "version")

    def __init__(
        self,
        future: asyncio.Future[Response | None],
        address: tuple[str, int],
        version: int,
        community: bytes,
        message: bytes,
        tries: int,
    ):
        self.future = future
        self.address = address
        self.version = version
        self.community = community
        self.message = message
        self.tries_left = tries
        self.timer: asyncio.TimerHandle | None = None


class FastSnmp(LoopSocket):
    """Sends GetRequests through one shared UDP socket and matches the responses.

    Use one per address family per process, through `shared_fast_snmp()`.
    """

    def __init__(self, family: Family):
        self.family: Family = family
        kind = socket.AF_INET6 if family == 6 else socket.AF_INET
        self._sock = socket.socket(kind, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
        except OSError:
            pass
        self._sock.bind(("::" if family == 6 else "0.0.0.0", 0))
        self._pending: dict[int, _Waiter] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def get(
        self,
        host: str,
        port: int,
        version: int,
        community: bytes,
        varbinds: bytes,
        *,
        try_timeout: float,
        tries: int,
    ) -> Response | None:
        """Send a GetRequest for `varbinds` (snmp_wire.varbind_list) to `host` (an IP
        literal) up to `tries` times, each waiting `try_timeout` seconds: the response, or None
        when no acceptable one came (a datagram the kernel refuses to send counts as lost, as
        in pysnmp, so the summary is the same "no response")."""
        if self._closed:
            raise OSError("the SNMP socket is closed")
        loop = asyncio.get_running_loop()
        self._attach(loop)
        address = (normalize(host), port)
        request_id = self._next_id()
        message = get_request(version, community, request_id, varbinds)
        waiter = _Waiter(loop.create_future(), address, version, community, message, tries)
        self._pending[request_id] = waiter
        try:
            self._try(request_id, try_timeout)
            return await waiter.future
        finally:
            self._forget(request_id)

    def _next_id(self) -> int:
        while True:  # 2^31 ids: a collision with one in flight is rare, and then we draw again
            request_id = random.randrange(1, 0x80000000)
            if request_id not in self._pending:
                return request_id

    def _try(self, request_id: int, timeout: float) -> None:
        """Send (again), or end the request with None when its tries are used up."""
        waiter = self._pending.get(request_id)
        if waiter is None or waiter.future.done():
            return
        if waiter.tries_left <= 0:
            self._finish(request_id, None)
            return
        waiter.tries_left -= 1
        assert self._loop is not None
        waiter.timer = self._loop.call_later(timeout, self._try, request_id, timeout)
        try:
            self._sock.sendto(waiter.message, waiter.address)
        except OSError:
            # A full send buffer in a burst, or no route: this try is lost like a dropped
            # datagram. (pysnmp's asyncio transport does the same, so both paths read alike.)
            pass

    def _on_readable(self) -> None:
        sock = self._sock
        for _ in range(_BATCH):
            try:
                data, source = sock.recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP port unreachable queued on the socket: read on
                continue
            self._on_datagram(data, source)

    def _on_datagram(self, data: bytes, source: tuple[str, int]) -> None:
        try:
            response = decode_response(data)
        except WireError:
            return  # not an SNMP response we could have asked for: pysnmp drops these too
        waiter = self._pending.get(response.request_id)
        if waiter is None:
            return  # late (the request timed out) or never ours
        host = source[0] if self.family == 4 else normalize(source[0])
        if (host, source[1]) != waiter.address:
            return
        if response.version != waiter.version or response.community != waiter.community:
            return
        self._finish(response.request_id, response)

    def close(self) -> None:
        """Stop reading, close the socket, and end every waiting request as unanswered."""
        if self._loop is not None and not self._loop.is_closed() and not self._closed:
            self._loop.remove_reader(self._sock.fileno())
        self._loop = None
        for request_id in list(self._pending):
            self._finish(request_id, None)
        self._closed = True
        self._sock.close()


def shared_key(family: Family) -> str:
    return f"snmp.fast.v{family}"


def shared_fast_snmp(context: CheckContext, family: Family) -> FastSnmp:
    """The process-wide v1/v2c GET client for `family`, made on first use and closed by
    `context.aclose()`."""
    return context.shared(shared_key(family), lambda: FastSnmp(family))
