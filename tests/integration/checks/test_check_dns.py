"""The dns check against a real DNS server the test runs on 127.0.0.1 (tests/support)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import ValidationError

from escalatord.checks.base import CheckContext, execute
from escalatord.checks.dns import DnsCheck
from escalatord.core.status import Status
from tests.support.dns_server import DnsServer

RECORDS = {
    ("intranet.example.org", "A"): ["10.0.0.10", "10.0.0.11"],
    ("intranet.example.org", "AAAA"): ["2001:db8::10"],
    ("example.org", "MX"): ["10 mail.example.org."],
    ("example.org", "TXT"): ['"v=spf1 " "-all"'],
    ("www.example.org", "CNAME"): ["intranet.example.org."],
    ("big.example.org", "A"): [f"10.1.0.{i}" for i in range(1, 40)],
}


@pytest.fixture
async def server() -> AsyncIterator[DnsServer]:
    async with DnsServer(RECORDS) as s:
        yield s


def make(server: DnsServer | int, **keys: Any) -> DnsCheck:
    port = server if isinstance(server, int) else server.port
    keys.setdefault("timeout", "2s")
    config = DnsCheck.Config(name="dns", type="dns", server="127.0.0.1", port=port, **keys)
    return DnsCheck(config, CheckContext())


async def test_expected_answers_are_ok(server: DnsServer):
    """An A query whose answers include every expected address is ok, listing them."""
    result = await execute(make(server, query="intranet.example.org", expect=["10.0.0.11"]))
    assert result.status is Status.OK, result.summary
    assert "NOERROR" in result.summary and "10.0.0.10, 10.0.0.11" in result.summary
    assert result.measurements["answers"] == 2
    assert result.measurements["latency_ms"] >= 0


async def test_missing_expected_answer_is_critical(server: DnsServer):
    """An expected address that is not among the answers is critical and named."""
    result = await execute(make(server, query="intranet.example.org", expect=["10.0.0.99"]))
    assert result.status is Status.CRITICAL
    assert result.summary.endswith("missing 10.0.0.99")


async def test_nxdomain_and_servfail_are_critical(server: DnsServer):
    """A name that does not exist, or a failing server, is critical with the rcode."""
    gone = await execute(make(server, query="nope.example.org"))
    assert gone.status is Status.CRITICAL and "NXDOMAIN" in gone.summary
    assert gone.summary.endswith("expected NOERROR")
    server.servfail.add("intranet.example.org")
    failing = await execute(make(server, query="intranet.example.org"))
    assert failing.status is Status.CRITICAL and "SERVFAIL" in failing.summary


async def test_expect_rcode_nxdomain(server: DnsServer):
    """With expect_rcode = NXDOMAIN, a name that must not exist is ok when it does not."""
    result = await execute(make(server, query="old-host.example.org", expect_rcode="nxdomain"))
    assert result.status is Status.OK


async def test_empty_answer_is_critical(server: DnsServer):
    """NOERROR without records of the asked type is critical ("no AAAA records")."""
    result = await execute(make(server, query="example.org", record="AAAA"))
    assert result.status is Status.CRITICAL and "no AAAA records" in result.summary


async def test_record_types_compare_in_text_form(server: DnsServer):
    """MX, TXT, AAAA and CNAME answers compare case-insensitively without the final dot."""
    for keys in (
        {"query": "example.org", "record": "MX", "expect": ["10 MAIL.example.org"]},
        {"query": "example.org", "record": "TXT", "expect": ["v=spf1 -all"]},
        {"query": "intranet.example.org", "record": "AAAA", "expect": ["2001:DB8:0::10"]},
        {"query": "www.example.org", "record": "A", "expect": ["10.0.0.10"]},
        {"query": "www.example.org", "record": "CNAME", "expect": ["intranet.example.org."]},
    ):
        result = await execute(make(server, **keys))
        assert result.status is Status.OK, (keys, result.summary)


async def test_truncated_udp_answer_is_retried_over_tcp(server: DnsServer):
    """A truncated UDP answer is asked again over TCP; protocol = "tcp" uses TCP only."""
    server.truncate.add("big.example.org")
    result = await execute(make(server, query="big.example.org", expect=["10.1.0.39"]))
    assert result.status is Status.OK
    assert [t for t, n, _ in server.queries if n == "big.example.org"] == ["udp", "tcp"]
    server.queries.clear()
    tcp = await execute(make(server, query="intranet.example.org", protocol="tcp"))
    assert tcp.status is Status.OK and [t for t, _, _ in server.queries] == ["tcp"]


async def test_silent_server_times_out_and_refused_port_is_critical(server: DnsServer):
    """No answer within the timeout is critical; a closed TCP port is "refused"."""
    server.silent.add("intranet.example.org")
    silent = await execute(make(server, query="intranet.example.org", timeout="300ms"))
    assert silent.status is Status.CRITICAL and "timed out after 300ms" in silent.summary
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    refused = await execute(make(closed, query="intranet.example.org", protocol="tcp"))
    assert refused.status is Status.CRITICAL and "refused" in refused.summary


async def test_slow_answer_is_a_warning(server: DnsServer):
    """An answer slower than max_latency is a warning (max_latency 0ms: every answer is)."""
    result = await execute(make(server, query="intranet.example.org", max_latency="0ms"))
    assert result.status is Status.WARNING and "slower than max_latency" in result.summary


def test_config_errors_name_the_fix():
    """A server that is a name, an unknown record type or rcode, a bad query are refused."""
    for keys, text in (
        ({"server": "dns.example.org"}, "server must be an IP address"),
        ({"record": "AXFRX"}, "unknown record type"),
        ({"expect_rcode": "NOPE"}, "unknown rcode"),
        ({"protocol": "quic"}, 'protocol must be "udp" or "tcp"'),
        ({"query": "a..b"}, "not a valid DNS name"),
    ):
        data = {"name": "d", "type": "dns", "query": "example.org", **keys}
        with pytest.raises(ValidationError, match=text):
            DnsCheck.Config.model_validate(data)
