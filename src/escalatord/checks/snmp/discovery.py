"""Does an SNMPv3 agent answer at all, and with which engine ID? One discovery request tells.

An agent answers an RFC 3414 discovery request (SNMPv3, reportable, empty user and engine ID)
with a report carrying its engine ID, whatever credentials a manager has. Two uses:

- net-snmp silently drops a request it cannot decrypt, so a silent agent that still answers
  discovery points at a wrong priv_key rather than a dead agent;
- pysnmp keeps an agent's engine ID for 5 minutes after learning it. An agent whose engine ID
  changed (a replaced device, a reset of its persistent state) drops requests addressed to the
  old one, so until then every request would time out. A different ID here says to forget the
  cached one (`forget_peer()`) and ask again.

The request is a constant BER message built here; the answer is decoded with pysnmp's own
message types.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from pyasn1.codec.ber import decoder
from pyasn1.error import PyAsn1Error


async def agent_engine_id(host: str, port: int, wait: float) -> bytes | None:
    """The engine ID an SNMPv3 agent at host:port reports within `wait` s; None if silent.

    An answer that is not a readable SNMPv3 report gives b"": the agent is there, its ID is not
    known."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()

    class Protocol(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            if not answer.done():
                answer.set_result(data)

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    transport, _ = await loop.create_datagram_endpoint(
        Protocol, remote_addr=(host, port), family=family
    )
    try:
        transport.sendto(_discovery_message())
        data = await asyncio.wait_for(answer, wait)
    except TimeoutError:
        return None
    finally:
        transport.close()
    return engine_id_of(data)


def engine_id_of(data: bytes) -> bytes:
    """msgAuthoritativeEngineID of an SNMPv3 message; b"" when it cannot be read."""
    # Imported here: pysnmp's USM pulls in its ciphers (cryptography, slow to import), which a
    # daemon polling only v1/v2c never needs.
    from pysnmp.proto.mpmod.rfc3412 import SNMPv3Message
    from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters

    try:
        message, _ = decoder.decode(data, asn1Spec=SNMPv3Message())
        params, _ = decoder.decode(
            bytes(message["msgSecurityParameters"]), asn1Spec=UsmSecurityParameters()
        )
        return bytes(params["msgAuthoritativeEngineId"])
    except (PyAsn1Error, KeyError, TypeError, ValueError):
        return b""


def cached_engine_id(engine: Any, domain: Any, address: tuple[str, int]) -> bytes | None:
    """The engine ID pysnmp's SNMPv3 message processing has cached for the agent, if any."""
    v3 = engine.message_processing_subsystems.get(3)
    if v3 is None:
        return None
    for key in _cache(v3) or {}:
        if key[0] == domain and tuple(key[1])[:2] == address:
            security_engine_id, _, _ = v3.get_peer_engine_info(*key)
            return bytes(security_engine_id) if security_engine_id is not None else None
    return None


def forget_peer(engine: Any, domain: Any, address: tuple[str, int]) -> bool:
    """Drop pysnmp's cached engine ID for the agent, so the next request discovers it again.

    pysnmp has no public call for this: its cache is a private dict of the SNMPv3 message
    processing model. When that changes shape, nothing is dropped (False) and the cache
    expires by itself within 5 minutes."""
    v3 = engine.message_processing_subsystems.get(3)
    cache = _cache(v3) if v3 is not None else None
    if cache is None:
        return False
    stale = [k for k in cache if k[0] == domain and tuple(k[1])[:2] == address]
    for key in stale:
        del cache[key]
    return bool(stale)


def _cache(v3: Any) -> dict[Any, Any] | None:
    cache = getattr(v3, "_SnmpV3MessageProcessingModel__engineIdCache", None)
    return cache if isinstance(cache, dict) else None


def _discovery_message() -> bytes:
    """An RFC 3414 §4 discovery request: SNMPv3, reportable, empty user, empty GET."""

    def tlv(tag: int, body: bytes) -> bytes:
        size = len(body)
        length = bytes([size]) if size < 128 else bytes([0x82]) + size.to_bytes(2, "big")
        return bytes([tag]) + length + body

    def integer(value: int) -> bytes:
        return tlv(0x02, value.to_bytes((value.bit_length() + 8) // 8, "big"))

    def octets(value: bytes) -> bytes:
        return tlv(0x04, value)

    msg_id, request_id = (int.from_bytes(os.urandom(3), "big") for _ in range(2))
    header = tlv(0x30, integer(msg_id) + integer(65507) + octets(b"\x04") + integer(3))
    usm_params = tlv(0x30, octets(b"") + integer(0) + integer(0) + octets(b"") * 3)
    pdu = tlv(0xA0, integer(request_id) + integer(0) + integer(0) + tlv(0x30, b""))
    scoped = tlv(0x30, octets(b"") + octets(b"") + pdu)
    return tlv(0x30, integer(3) + header + octets(usm_params) + scoped)
