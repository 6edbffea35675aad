"""The v1/v2c GET fast path (snmp_fast.py) against real agents on loopback: it reports what
the pysnmp path reports for the same agent data, and it takes a reply only from the address
and port asked, with the request's request-id and community."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

from escalatord.checks.base import CheckContext, execute
from escalatord.checks.snmp.engines import SHARED_KEY
from escalatord.checks.snmp.fast import shared_key
from escalatord.checks.snmp.get import SnmpCheck
from escalatord.checks.snmp.session import SnmpTarget
from escalatord.core.status import Result, Status
from tests.support.snmp_agent import RECORDED_ROUTER, Snmpsim, free_udp_port, module_context

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXTRA = """1.3.6.1.4.1.99999.1.1.0|4x|00ff10
1.3.6.1.4.1.99999.1.2.0|64|10.1.2.3
1.3.6.1.4.1.99999.1.3.0|66|12
1.3.6.1.4.1.99999.1.4.0|68|9f78043e1a36e3
1.3.6.1.4.1.99999.1.5.0|2|-2147483648
1.3.6.1.4.1.99999.1.6.0|6|1.3.6.1.4.1.9.1.1
1.3.6.1.4.1.99999.1.7.0|4|0.15
"""
ALL_TYPES = [f"1.3.6.1.4.1.99999.1.{i}.0" for i in range(1, 8)]
FAST = {"request_timeout": "200ms", "request_retries": 1, "timeout": "2s"}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpsim]:
    agent = Snmpsim(tmp_path_factory.mktemp("snmpsim"), RECORDED_ROUTER + EXTRA).start()
    try:
        yield agent
    finally:
        agent.stop()


context = module_context()


async def run(context: CheckContext, port: int, fast: bool, **keys: Any) -> Result:
    data = {"name": "fast", "type": "snmp", "host": "127.0.0.1", "port": port, **keys}
    data.setdefault("community", "recorded")
    config = SnmpCheck.Config.model_validate(data)
    check = SnmpCheck(config, context)
    check._target = SnmpTarget(config, context, fast=fast)  # the path under comparison
    try:
        return await execute(check)
    finally:
        await check.close()


CASES = [
    {"oids": ["SNMPv2-MIB::sysDescr.0", "SNMPv2-MIB::sysUpTime.0", *ALL_TYPES]},
    {"version": "1", "oids": ["SNMPv2-MIB::sysName.0", *ALL_TYPES]},
    {"oids": ["1.3.6.1.2.1.31.1.1.1.6.1", "1.3.6.1.2.1.2.2.1.10.3"], "warning": "5000"},
    {"oid": "IF-MIB::ifOperStatus.1", "expect": "2"},
    {"oid": "1.3.6.1.4.1.99999.1.7.0", "critical": "0.1"},
    {"oids": ["IF-MIB::ifOperStatus.99", "1.3.6.1.2.1.1.99.0", "SNMPv2-MIB::sysName.0"]},
    {"version": "1", "oids": ["SNMPv2-MIB::sysName.0", "IF-MIB::ifDescr.99"]},
    {"oid": "1.3.6.1.4.1.99999.1.1.0", "community": "wrong", **FAST},
    {"version": "1", "oid": "SNMPv2-MIB::sysName.0", "community": "wrong", **FAST},
]


@pytest.mark.parametrize("keys", CASES)
async def test_both_paths_report_the_same(context, sim, keys):
    """For the same agent data, the fast path and pysnmp give the same status, summary and
    measurements: every value type, v1 and v2c, thresholds, missing OIDs, silence."""
    fast = await run(context, sim.port, True, **keys)
    slow = await run(context, sim.port, False, **keys)
    assert (fast.status, fast.summary, fast.measurements) == (
        slow.status,
        slow.summary,
        slow.measurements,
    )
    assert fast.status is not Status.UNKNOWN or "does not exist" in fast.summary


async def test_v2c_gets_use_the_fast_path_not_a_pysnmp_engine():
    """A v2c GET goes through the shared fast-path socket; no pysnmp engine is made."""
    own = CheckContext()
    agent = FakeAgent()
    try:
        await agent.open()
        result = await run(own, agent.port, True, community="public", oid="1.3.6.1.2.1.1.5.0")
        assert (result.status, result.summary) == (Status.OK, "1.3.6.1.2.1.1.5.0 = fake")
        assert shared_key(4) in own._resources
        assert SHARED_KEY not in own._resources
    finally:
        agent.close()
        await own.aclose()


class FakeAgent(asyncio.DatagramProtocol):
    """A v2c agent on 127.0.0.1 answering sysName "fake", the reply tampered as told."""

    def __init__(self, tamper: str = "") -> None:
        self.tamper = tamper
        self.port = 0
        self.transport: Any = None
        self.other: Any = None  # a second socket, to answer from elsewhere

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", 0)
        )
        self.port = self.transport.get_extra_info("sockname")[1]
        if self.tamper in ("port", "address"):
            host = "127.0.0.2" if self.tamper == "address" else "127.0.0.1"
            port = self.port if self.tamper == "address" else 0
            self.other, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, local_addr=(host, port)
            )

    def datagram_received(self, data: bytes, addr: Any) -> None:
        mod = api.v2c
        msg, _ = decoder.decode(data, asn1Spec=mod.Message())
        request = mod.apiMessage.get_pdu(msg)
        pdu = mod.GetResponsePDU()
        mod.apiPDU.set_defaults(pdu)
        request_id = int(mod.apiPDU.get_request_id(request))
        if self.tamper == "request-id":
            request_id ^= 1
        mod.apiPDU.set_request_id(pdu, request_id)
        oid = mod.apiPDU.get_varbinds(request)[0][0]
        mod.apiPDU.set_varbinds(pdu, [(oid, mod.OctetString(b"fake"))])
        reply = mod.Message()
        mod.apiMessage.set_defaults(reply)
        community = b"other" if self.tamper == "community" else b"public"
        mod.apiMessage.set_community(reply, community)
        mod.apiMessage.set_pdu(reply, pdu)
        (self.other or self.transport).sendto(encoder.encode(reply), addr)

    def close(self) -> None:
        for transport in (self.transport, self.other):
            if transport is not None:
                transport.close()


@pytest.mark.parametrize("tamper", ["", "port", "address", "request-id", "community"])
async def test_replies_from_elsewhere_or_for_another_request_are_ignored(context, tamper):
    """A reply from another port or address, with another request-id or community, is not
    taken: the check reads "no response"; the untampered reply is ok."""
    agent = FakeAgent(tamper)
    await agent.open()
    try:
        keys = {"community": "public", "oid": "1.3.6.1.2.1.1.5.0", **FAST}
        result = await run(context, agent.port, True, **keys)
    finally:
        agent.close()
    if not tamper:
        assert (result.status, result.summary) == (Status.OK, "1.3.6.1.2.1.1.5.0 = fake")
    else:
        assert result.status is Status.CRITICAL
        assert result.summary == (
            f"no response from 127.0.0.1:{agent.port} after 2 tries (agent down or wrong community)"
        )


async def test_a_dead_port_reads_no_response_on_both_paths(context):
    """Nothing listening: both paths say "no response … (agent down or wrong community)"."""
    port = free_udp_port()
    keys = {"oid": "1.3.6.1.2.1.1.5.0", "request_retries": 0, "request_timeout": "300ms"}
    fast = await run(context, port, True, **keys)
    slow = await run(context, port, False, **keys)
    expected = f"no response from 127.0.0.1:{port} after 1 try (agent down or wrong community)"
    assert (fast.status, fast.summary) == (Status.CRITICAL, expected)
    assert (slow.status, slow.summary) == (Status.CRITICAL, expected)
