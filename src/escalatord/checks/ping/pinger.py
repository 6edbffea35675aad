"""One ICMP socket per process (per address family and privilege), shared by every ping check.

icmplib's `async_ping`/`async_multiping` open a socket per host per run, and each of its
receivers reads and discards everybody else's replies: a raw socket gets a copy of every ICMP
packet on the machine. Here one socket, opened with icmplib's `ICMPv4Socket`/`ICMPv6Socket`,
is read by a single reader callback on the event loop that matches each reply to the request
waiting for it by (source address, sequence) - plus our identifier on raw sockets - and wakes
that request's future. However many ping checks run at once, they cost one file descriptor and
one read per reply (bench/RESULTS.md, 'Ping: shared socket vs one socket per host').

Privileged (raw) sockets choose their own identifier; unprivileged datagram ("ping") sockets
get one from the kernel, which also filters replies by it, so there only (address, sequence)
is matched. Every request carries a unique 8-byte token in its payload that the reply must
echo, so a late reply to a reused sequence number is never taken for a new one.

Round-trip times use the kernel's receive timestamp (SO_TIMESTAMPNS) where available, so a
busy event loop does not show up as network latency.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import socket
import struct
import sys
import time
from dataclasses import dataclass
from typing import Literal

from icmplib import ICMPv4Socket, ICMPv6Socket
from icmplib.exceptions import ICMPSocketError, SocketPermissionError

from escalatord.checks.base import CheckContext
from escalatord.checks.hosts import normalize
from escalatord.checks.loopsocket import LoopSocket
from escalatord.checks.ping.icmp_mode import mode_of, permission_message
from escalatord.errors import CheckError

Family = Literal[4, 6]

_ECHO_REQUEST = {4: 8, 6: 128}
_ECHO_REPLY = {4: 0, 6: 129}
_ERROR_TYPES = {4: {3, 11}, 6: {1, 3}}  # destination unreachable, time exceeded
_FILLER = b"escalatord-ping:" * 3  # 48 bytes; with the 8-byte token a classic 56-byte payload
_BATCH = 512  # packets read per wake-up before yielding to the loop
_RCVBUF = 8 << 20  # the kernel caps this at net.core.rmem_max; bursts of replies need room

# Linux's SO_TIMESTAMPNS (== SCM_TIMESTAMPNS). Python does not export it; its value is 35 on
# the asm-generic ABI used by x86, arm, riscv, powerpc and s390. Elsewhere we time in userspace.
_SO_TIMESTAMPNS = 35
_GENERIC_ABI = ("x86_64", "i686", "i386", "aarch64", "arm", "riscv", "ppc", "s390")
_KERNEL_TIMESTAMPS = sys.platform == "linux" and os.uname().machine.startswith(_GENERIC_ABI)
_TIMESPEC = struct.Struct("@ll")
_ANCBUF = socket.CMSG_SPACE(_TIMESPEC.size) if _KERNEL_TIMESTAMPS else 0

_UNREACHABLE_V4 = {
    0: "network unreachable",
    1: "host unreachable",
    2: "protocol unreachable",
    3: "port unreachable",
    4: "fragmentation needed",
    9: "network administratively prohibited",
    10: "host administratively prohibited",
    13: "administratively prohibited",
}
_UNREACHABLE_V6 = {
    0: "no route to destination",
    1: "administratively prohibited",
    3: "address unreachable",
    4: "port unreachable",
}


class IcmpUnavailable(CheckError):
    """The ICMP socket cannot be opened; the message says why and how to fix it."""


class IcmpPermissionDenied(IcmpUnavailable):
    """This process may not open that kind of ICMP socket (see checks/ping/icmp_mode.py)."""


@dataclass(frozen=True, slots=True)
class Echo:
    """The outcome of one echo request: `rtt_ms`, or None with the reason in `error`.

    `error` is None for plain silence; else e.g. "host unreachable (reported by 10.0.0.1)"
    or "send failed: Invalid argument".
    """

    rtt_ms: float | None
    error: str | None = None


@dataclass(frozen=True)
class PingStats:
    """The echoes of one `Pinger.ping()` call, in the order they were sent."""

    address: str
    echoes: tuple[Echo, ...]

    @property
    def sent(self) -> int:
        return len(self.echoes)

    @property
    def rtts_ms(self) -> list[float]:
        return [e.rtt_ms for e in self.echoes if e.rtt_ms is not None]

    @property
    def received(self) -> int:
        return len(self.rtts_ms)

    @property
    def loss_pct(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 100.0

    @property
    def errors(self) -> list[str]:
        """Distinct reasons given for lost packets, in order of first appearance."""
        return list(dict.fromkeys(e.error for e in self.echoes if e.error))


class _Waiter:
    __slots__ = ("future", "sent_ns", "timer", "token")

    def __init__(self, future: asyncio.Future[Echo], token: bytes):
        self.future = future
        self.token = token
        self.sent_ns = 0
        self.timer: asyncio.TimerHandle | None = None


def _checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum of an even-length byte string."""
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total & 0xFFFF) + (total >> 16)
    total += total >> 16
    return ~total & 0xFFFF


class Pinger(LoopSocket):
    """Sends echo requests through one shared socket and matches the replies.

    Opening raises `IcmpUnavailable` when the privilege setting does not fit the machine.
    Use one per (family, privileged) per process, through `shared_pinger()`.
    """

    def __init__(self, family: Family, *, privileged: bool):
        self.family: Family = family
        self.privileged = privileged
        kind = ICMPv4Socket if family == 4 else ICMPv6Socket
        try:
            self._icmp = kind(privileged=privileged)
        except SocketPermissionError:
            raise IcmpPermissionDenied(permission_message(privileged)) from None
        except ICMPSocketError as exc:
            raise IcmpUnavailable(f"cannot open an ICMPv{family} socket: {exc}") from None
        self._sock: socket.socket = self._icmp.sock
        self._sock.setblocking(False)
        self._tune_socket()
        # A raw socket writes our identifier; a datagram socket's kernel replaces it.
        self._ident = random.randrange(1, 0x10000)
        self._seq = random.randrange(0x10000)
        self._tokens = itertools.count(random.randrange(1 << 62))
        self._pending: dict[tuple[str, int], _Waiter] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def _tune_socket(self) -> None:
        sock = self._sock
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
        except OSError:
            pass
        if _KERNEL_TIMESTAMPS:
            try:
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            except OSError:
                pass
        if self.privileged and sys.platform == "linux":
            # A raw socket receives every ICMP packet on the machine, including our own echo
            # requests looped back. Let the kernel drop all but replies and errors.
            try:
                if self.family == 4:  # SOL_RAW, ICMP_FILTER: a set bit blocks that type
                    allowed = (1 << 0) | (1 << 3) | (1 << 11)
                    sock.setsockopt(255, 1, struct.pack("I", ~allowed & 0xFFFFFFFF))
                else:  # ICMP6_FILTER: 256 bits, a set bit blocks that type
                    words = [0xFFFFFFFF] * 8
                    for kind in (1, 3, 129):
                        words[kind >> 5] &= ~(1 << (kind & 31)) & 0xFFFFFFFF
                    sock.setsockopt(socket.IPPROTO_ICMPV6, 1, struct.pack("8I", *words))
            except OSError:
                pass

    @property
    def closed(self) -> bool:
        return self._icmp.is_closed

    async def ping(
        self, address: str, *, count: int = 1, interval: float = 0.2, wait: float = 1.0
    ) -> PingStats:
        """Send `count` echo requests to `address` (an IP literal), `interval` seconds apart.

        Each request waits at most `wait` seconds for its reply, so the call returns within
        (count - 1) * interval + wait. Never raises for network failures: they are echoes
        with an error.
        """
        if self.closed:
            raise IcmpUnavailable("the ICMP socket is closed")
        if family_of(address) != self.family:
            raise ValueError(f"{address} is not an IPv{self.family} address")
        loop = asyncio.get_running_loop()
        self._attach(loop)
        keys: list[tuple[str, int]] = []
        futures: list[asyncio.Future[Echo]] = []
        try:
            for i in range(count):
                if i:
                    await asyncio.sleep(interval)
                key, future = await self._send(loop, address, wait)
                keys.append(key)
                futures.append(future)
            # Replies and timers resolve the futures while we wait on the first ones.
            echoes = [await future for future in futures]
        finally:
            for key, future in zip(keys, futures, strict=True):
                waiter = self._pending.get(key)
                if waiter is not None and waiter.future is future:
                    self._forget(key)
        return PingStats(address, tuple(echoes))

    def _next_key(self, address: str) -> tuple[str, int]:
        for _ in range(0x10000):
            self._seq = (self._seq + 1) & 0xFFFF
            key = (address, self._seq)
            if key not in self._pending:
                return key
        raise RuntimeError(f"65,536 echo requests to {address} in flight")

    async def _send(
        self, loop: asyncio.AbstractEventLoop, address: str, wait: float
    ) -> tuple[tuple[str, int], asyncio.Future[Echo]]:
        key = self._next_key(normalize(address))
        token = next(self._tokens).to_bytes(8, "big")
        waiter = _Waiter(loop.create_future(), token)
        self._pending[key] = waiter
        header = struct.pack("!BBHHH", _ECHO_REQUEST[self.family], 0, 0, self._ident, key[1])
        packet = bytearray(header + token + _FILLER)
        struct.pack_into("!H", packet, 2, _checksum(bytes(packet)))  # the kernel redoes v6's
        # Armed first, so that a waiter whose send is cancelled still expires and goes away.
        waiter.timer = loop.call_later(wait, self._finish, key, Echo(None))
        for attempt in range(50):
            try:
                waiter.sent_ns = time.time_ns()
                self._sock.sendto(packet, (address, 0))
                break
            except BlockingIOError:  # send buffer full during a burst: give the kernel a moment
                if attempt == 49:
                    self._finish(key, Echo(None, "send failed: socket buffer full"))
                    return key, waiter.future
                await asyncio.sleep(0.002)
            except OSError as exc:
                self._finish(key, Echo(None, f"send failed: {_describe_oserror(exc)}"))
                return key, waiter.future
        return key, waiter.future

    def _on_readable(self) -> None:
        sock = self._sock
        for _ in range(_BATCH):
            try:
                data, ancdata, _flags, source = sock.recvmsg(2048, _ANCBUF)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. a queued error on the socket; the next read goes on
                return
            received_ns = 0
            for level, kind, value in ancdata:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                    sec, nsec = _TIMESPEC.unpack_from(value)
                    received_ns = sec * 1_000_000_000 + nsec
            self._on_packet(data, source[0], received_ns or time.time_ns())

    def _on_packet(self, data: bytes, source: str, received_ns: int) -> None:
        if self.family == 4 and self.privileged:
            data = data[(data[0] & 0x0F) * 4 :] if data else data  # strip the IPv4 header
        if len(data) < 8:
            return
        kind, code, _sum, ident, seq = struct.unpack_from("!BBHHH", data)
        if kind == _ECHO_REPLY[self.family]:
            if self.family == 6:
                source = normalize(source)
            key = (source, seq)
            waiter = self._pending.get(key)
            if waiter is None or data[8:16] != waiter.token:
                return  # someone else's reply, or a late one for a reused sequence
            if self.privileged and ident != self._ident:
                return
            rtt = max(0.0, (received_ns - waiter.sent_ns) / 1e6)
            self._finish(key, Echo(rtt))
        elif self.privileged and kind in _ERROR_TYPES[self.family]:
            self._on_error(kind, code, data[8:], source)

    def _on_error(self, kind: int, code: int, inner: bytes, reporter: str) -> None:
        """An ICMP error quoting one of our requests: wake that request with the reason."""
        if self.family == 4:
            if len(inner) < 20 or inner[9] != socket.IPPROTO_ICMP:
                return
            header = (inner[0] & 0x0F) * 4
            target = socket.inet_ntop(socket.AF_INET, inner[16:20])
            reason = _UNREACHABLE_V4.get(code, f"destination unreachable (code {code})")
            if kind == 11:
                reason = "TTL exceeded in transit"
        else:
            if len(inner) < 40 or inner[6] != socket.IPPROTO_ICMPV6:
                return
            header = 40
            target = normalize(socket.inet_ntop(socket.AF_INET6, inner[24:40]))
            reason = _UNREACHABLE_V6.get(code, f"destination unreachable (code {code})")
            if kind == 3:
                reason = "hop limit exceeded in transit"
        quoted = inner[header : header + 8]
        if len(quoted) < 8:
            return
        qkind, _qcode, _qsum, qident, qseq = struct.unpack("!BBHHH", quoted)
        if qkind != _ECHO_REQUEST[self.family] or qident != self._ident:
            return
        if (target, qseq) in self._pending:
            self._finish((target, qseq), Echo(None, f"{reason} (reported by {reporter})"))

    def close(self) -> None:
        """Stop reading, close the socket, and end every waiting request as lost."""
        if self._loop is not None and not self._loop.is_closed() and not self.closed:
            self._loop.remove_reader(self._sock.fileno())
        self._loop = None
        for key in list(self._pending):
            self._finish(key, Echo(None, "the ICMP socket was closed"))
        self._icmp.close()


def _describe_oserror(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    if exc.errno == 22:  # what Linux returns for a destination behind a blackhole route
        text += " (a blackhole route?)"
    return text


def shared_key(family: Family, privileged: bool) -> str:
    return f"icmp.v{family}.{'raw' if privileged else 'datagram'}"


def shared_pinger(context: CheckContext, family: Family) -> Pinger:
    """The process-wide pinger for `family` in the context's decided `icmp_mode`.

    `context` is a `CheckContext`; the pinger is created on first use and closed by
    `context.aclose()`. Raises `IcmpUnavailable` (and caches nothing, so a widened
    ping_group_range works at the next run) when it cannot open.
    """
    mode = mode_of(context)
    privileged = mode.privileged
    try:
        return context.shared(
            shared_key(family, privileged), lambda: Pinger(family, privileged=privileged)
        )
    except IcmpPermissionDenied:  # worded for the setting: "auto" tried both sockets
        raise IcmpUnavailable(mode.problem()) from None


def family_of(address: str) -> Family:
    return 6 if ":" in address else 4
