"""A minimal SNMPv2c GET client (BER by hand, one UDP socket): the floor for `baseline.py`.

Not escalatord code and not a proposal as written: it shows what an SNMP GET costs without
pysnmp's general machinery (pyasn1 objects, the message-processing and security models), to
size the gain of a v1/v2c fast path. It handles what the benchmark agent answers: a GET of
one OID whose value is an INTEGER, OCTET STRING, OID, or an application type.
"""

from __future__ import annotations

import asyncio
import itertools


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, payload: bytes) -> bytes:
    return bytes([tag]) + _length(len(payload)) + payload


def _int(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes((value.bit_length() + 8) // 8 or 1, "big", signed=True))


def encode_oid(oid: str) -> bytes:
    parts = [int(x) for x in oid.strip(".").split(".")]
    out = bytearray([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        while p := p >> 7:
            chunk.insert(0, 0x80 | (p & 0x7F))
        out += bytes(chunk)
    return bytes(out)


def get_request(community: bytes, request_id: int, oid_ber: bytes) -> bytes:
    varbind = _tlv(0x30, _tlv(0x06, oid_ber) + b"\x05\x00")
    pdu = _tlv(0xA0, _int(request_id) + _int(0) + _int(0) + _tlv(0x30, varbind))
    return _tlv(0x30, _int(1) + _tlv(0x04, community) + pdu)


def _read(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the TLV at `at`."""
    tag, n = data[at], data[at + 1]
    at += 2
    if n & 0x80:
        size = n & 0x7F
        n = int.from_bytes(data[at : at + size], "big")
        at += size
    return tag, at, at + n


def parse_response(data: bytes) -> tuple[int, int, str]:
    """(request-id, error-status, first value as text) of a GetResponse."""
    _, at, _ = _read(data, 0)  # message SEQUENCE
    _, _, at = _read(data, at)  # version
    _, _, at = _read(data, at)  # community
    _, at, _ = _read(data, at)  # GetResponse-PDU
    _, s, at = _read(data, at)
    request_id = int.from_bytes(data[s:at], "big", signed=True)
    _, s, at = _read(data, at)
    status = int.from_bytes(data[s:at], "big")
    _, _, at = _read(data, at)  # error-index
    _, at, _ = _read(data, at)  # varbind list
    _, at, _ = _read(data, at)  # first varbind
    _, _, at = _read(data, at)  # its OID
    tag, s, e = _read(data, at)
    raw = data[s:e]
    if tag == 0x04:
        return request_id, status, raw.decode("utf-8", "replace")
    if tag in (0x02, 0x41, 0x42, 0x43, 0x46):
        return request_id, status, str(int.from_bytes(raw, "big", signed=tag == 0x02))
    return request_id, status, raw.hex()


class RawSnmp(asyncio.DatagramProtocol):
    """One socket, many GETs in flight, matched by request-id."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[tuple[int, str]]] = {}
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(cls) -> RawSnmp:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_datagram_endpoint(cls, local_addr=("127.0.0.1", 0))
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        try:
            request_id, status, value = parse_response(data)
        except (IndexError, ValueError):
            return
        future = self._waiting.pop(request_id, None)
        if future is not None and not future.done():
            future.set_result((status, value))

    async def get(self, address: tuple[str, int], community: bytes, oid_ber: bytes) -> str:
        assert self.transport is not None
        request_id = next(self._ids) & 0x7FFFFFFF
        future = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self.transport.sendto(get_request(community, request_id, oid_ber), address)
        try:
            status, value = await asyncio.wait_for(future, 2)
        finally:
            self._waiting.pop(request_id, None)
        if status:
            raise RuntimeError(f"error-status {status}")
        return value
