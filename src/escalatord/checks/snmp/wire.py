"""BER for SNMP v1/v2c GET: encode a GetRequest, decode a GetResponse (pure, no IO).

Why by hand: a GET through pysnmp costs much CPU, and even pysnmp's own low-level message API
with the pyasn1 codec costs a large part of that per encode + decode; this codec costs a small
fraction (bench/RESULTS.md, "SNMP v1/v2c fast path"). It covers exactly what a
poll needs; v3, walks and traps stay with pysnmp (session.py).

Values come back as the same pysnmp/pyasn1 objects pysnmp's own GET path hands a check, so
`snmp_values` renders and judges them identically: INTEGER as `rfc1902.Integer` (v2c) or
`rfc1902.Integer32` (v1, as pysnmp's v1-to-v2c translation gives it), OCTET STRING, OBJECT
IDENTIFIER (`univ.ObjectIdentifier`), NULL, IpAddress, Counter32, Gauge32, TimeTicks, Opaque,
Counter64, and v2c's noSuchObject / noSuchInstance / endOfMibView markers. A value pysnmp would
refuse (an unknown tag, a number outside its type's range, an IpAddress not 4 bytes long) is
refused here too: the whole message is malformed, as pysnmp drops it.

Every read is bounds-checked: a short, hostile or garbled datagram raises `WireError`, never
IndexError. Only definite lengths of at most 4 length octets are accepted (SNMP messages are
never indefinite-length).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyasn1.type import univ
from pysnmp.proto import rfc1902, rfc1905

Oid = tuple[int, ...]

VERSION_1 = 0  # the wire values of the version field
VERSION_2C = 1
GET_REQUEST = 0xA0
GET_RESPONSE = 0xA2
MAX_SUBID_OCTETS = 10  # 70 bits: beyond any agent's sub-identifier (SNMP caps them at 2^32-1)

# error-status names as pysnmp prints them (noError=0 … inconsistentName=18).
ERROR_STATUS = dict(
    (int(v), n)
    for n, v in rfc1905.PDU().componentType["error-status"].getType().namedValues.items()
)

_UNSIGNED = {  # tag -> (class, largest value)
    0x41: (rfc1902.Counter32, 0xFFFFFFFF),
    0x42: (rfc1902.Gauge32, 0xFFFFFFFF),
    0x43: (rfc1902.TimeTicks, 0xFFFFFFFF),
    0x46: (rfc1902.Counter64, 0xFFFFFFFFFFFFFFFF),
}
_MARKERS = {  # v2c exception values (context tags, NULL contents)
    0x80: rfc1905.noSuchObject,
    0x81: rfc1905.noSuchInstance,
    0x82: rfc1905.endOfMibView,
}
_NULL = univ.Null("")


class WireError(ValueError):
    """A datagram that is not a well-formed SNMP v1/v2c GetResponse; says what is wrong."""


@dataclass(frozen=True, slots=True)
class Response:
    """A decoded GetResponse. `varbinds` hold (oid, value) with values as described above."""

    version: int  # VERSION_1 or VERSION_2C
    community: bytes
    request_id: int
    error_status: int
    error_index: int
    varbinds: tuple[tuple[Oid, Any], ...]

    @property
    def error_name(self) -> str:
        """The error-status as pysnmp names it ("noSuchName"), or its number if unknown."""
        return ERROR_STATUS.get(self.error_status, str(self.error_status))


# --- encoding -------------------------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def _tlv(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + _length(len(payload)) + payload


def _integer(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def encode_oid(oid: Oid) -> bytes:
    """The BER contents of an OBJECT IDENTIFIER (without tag and length)."""
    if len(oid) < 2 or oid[0] > 2 or (oid[0] < 2 and oid[1] > 39) or min(oid) < 0:
        raise ValueError(f"cannot encode OID {oid!r}: needs 2+ non-negative arcs, first 0-2")
    out = bytearray()
    for arc in (oid[0] * 40 + oid[1], *oid[2:]):
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def varbind_list(oids: Sequence[Oid]) -> bytes:
    """The encoded VarBindList of a GET: each OID with a NULL value. Encode once per check."""
    return _tlv(0x30, b"".join(_tlv(0x30, _tlv(0x06, encode_oid(o)) + b"\x05\x00") for o in oids))


def get_request(version: int, community: bytes, request_id: int, varbinds: bytes) -> bytes:
    """A whole GetRequest message; `varbinds` from `varbind_list()`."""
    pdu = _tlv(GET_REQUEST, _integer(request_id) + b"\x02\x01\x00\x02\x01\x00" + varbinds)
    return _tlv(0x30, _integer(version) + _tlv(0x04, community) + pdu)


# --- decoding -------------------------------------------------------------------------------


def _read(data: bytes, at: int, end: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the TLV at `at`, which must end by `end`."""
    if at + 2 > end:
        raise WireError(f"truncated at byte {at}: a tag and length need 2 bytes")
    tag, n = data[at], data[at + 1]
    at += 2
    if tag & 0x1F == 0x1F:
        raise WireError(f"multi-byte tag at byte {at - 2}: not used by SNMP")
    if n & 0x80:
        size = n & 0x7F
        if size == 0 or size > 4:
            raise WireError(f"unsupported length form 0x{n:02x} at byte {at - 1}")
        if at + size > end:
            raise WireError(f"truncated length at byte {at}")
        n = int.from_bytes(data[at : at + size], "big")
        at += size
    if at + n > end:
        raise WireError(f"length {n} at byte {at} runs past the end of its container")
    return tag, at, at + n


def _expect(data: bytes, at: int, end: int, tag: int, what: str) -> tuple[int, int]:
    got, start, stop = _read(data, at, end)
    if got != tag:
        raise WireError(f"expected {what} (tag 0x{tag:02x}) at byte {at}, got tag 0x{got:02x}")
    return start, stop


def _signed(data: bytes, start: int, stop: int, what: str) -> int:
    if start == stop:
        raise WireError(f"empty INTEGER for {what}")
    return int.from_bytes(data[start:stop], "big", signed=True)


def _int_field(data: bytes, at: int, end: int, what: str) -> tuple[int, int]:
    start, stop = _expect(data, at, end, 0x02, what)
    return _signed(data, start, stop, what), stop


def decode_oid(raw: bytes) -> Oid:
    """The arcs of OBJECT IDENTIFIER contents; WireError when malformed."""
    if not raw:
        raise WireError("empty OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    octets = 0
    for byte in raw:
        if octets == 0 and byte == 0x80:
            raise WireError("OBJECT IDENTIFIER sub-identifier with a leading 0x80 (not minimal)")
        value = (value << 7) | (byte & 0x7F)
        octets += 1
        if octets > MAX_SUBID_OCTETS:
            raise WireError(
                f"OBJECT IDENTIFIER sub-identifier longer than {MAX_SUBID_OCTETS} bytes"
            )
        if not byte & 0x80:
            arcs.append(value)
            value = octets = 0
    if octets:
        raise WireError("OBJECT IDENTIFIER ends inside a sub-identifier")
    first = arcs[0]
    head = (0, first) if first < 40 else (1, first - 40) if first < 80 else (2, first - 80)
    return head + tuple(arcs[1:])


def _value(data: bytes, tag: int, start: int, stop: int, version: int) -> Any:
    if tag == 0x04:
        return rfc1902.OctetString(data[start:stop])
    if tag == 0x02:
        number = _signed(data, start, stop, "a value")
        if not -0x80000000 <= number <= 0x7FFFFFFF:
            raise WireError(f"INTEGER value {number} outside Integer32")
        return rfc1902.Integer32(number) if version == VERSION_1 else rfc1902.Integer(number)
    if tag in _UNSIGNED:
        cls, top = _UNSIGNED[tag]
        number = _signed(data, start, stop, cls.__name__)
        if not 0 <= number <= top:
            raise WireError(f"{cls.__name__} value {number} outside 0..{top}")
        return cls(number)
    if tag == 0x06:
        return univ.ObjectIdentifier(decode_oid(data[start:stop]))
    if tag == 0x40:
        if stop - start != 4:
            raise WireError(f"IpAddress of {stop - start} bytes (must be 4)")
        return rfc1902.IpAddress(data[start:stop])
    if tag == 0x44:
        return rfc1902.Opaque(data[start:stop])
    if tag == 0x05 or (tag in _MARKERS and version != VERSION_1):
        if stop != start:
            raise WireError(f"tag 0x{tag:02x} with contents (must be empty)")
        return _NULL if tag == 0x05 else _MARKERS[tag]
    raise WireError(f"unsupported value tag 0x{tag:02x}")


def decode_response(data: bytes) -> Response:
    """Decode one datagram as a v1/v2c GetResponse; WireError says why it is not one."""
    end = len(data)
    start, stop = _expect(data, 0, end, 0x30, "the message SEQUENCE")
    if stop != end:
        raise WireError(f"{end - stop} bytes after the message")
    version, at = _int_field(data, start, stop, "version")
    if version not in (VERSION_1, VERSION_2C):
        raise WireError(f"version {version} is not SNMP v1 or v2c")
    c_start, at = _expect(data, at, stop, 0x04, "the community")
    community = data[c_start:at]
    p_start, p_stop = _expect(data, at, stop, GET_RESPONSE, "a GetResponse PDU")
    if p_stop != stop:
        raise WireError("bytes after the PDU")
    request_id, at = _int_field(data, p_start, p_stop, "request-id")
    status, at = _int_field(data, at, p_stop, "error-status")
    index, at = _int_field(data, at, p_stop, "error-index")
    v_start, v_stop = _expect(data, at, p_stop, 0x30, "the varbind list")
    if v_stop != p_stop:
        raise WireError("bytes after the varbind list")
    varbinds = []
    at = v_start
    while at < v_stop:
        b_start, b_stop = _expect(data, at, v_stop, 0x30, "a varbind")
        o_start, o_stop = _expect(data, b_start, b_stop, 0x06, "a varbind's OID")
        tag, s, e = _read(data, o_stop, b_stop)
        if e != b_stop:
            raise WireError("bytes after a varbind's value")
        varbinds.append((decode_oid(data[o_start:o_stop]), _value(data, tag, s, e, version)))
        at = b_stop
    return Response(version, community, request_id, status, index, tuple(varbinds))
