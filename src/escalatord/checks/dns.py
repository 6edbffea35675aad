"""The `dns` check: ask one DNS server one question and judge the answer.

    [[check]]
    name = "intranet-dns"
    type = "dns"
    query = "intranet.example.org"   # the name to resolve
    record = "A"                      # A, AAAA, CNAME, MX, TXT, NS, SRV, PTR, SOA, ...
    server = "10.0.0.53"              # an IP address; default: the first of /etc/resolv.conf
    # port = 53
    # protocol = "udp"                # udp (falls back to TCP when truncated) or tcp
    expect = ["10.0.0.10"]            # optional: each must be among the answers
    # expect_rcode = "NOERROR"        # e.g. "NXDOMAIN" to check that a name does NOT exist
    # recursion = true                # ask for recursion (the RD flag)
    max_latency = "200ms"             # optional: a slower answer is a warning

A different rcode, an empty answer (when NOERROR is expected) or a missing expected value is
critical. Answers are compared in their usual text form, case-insensitively and without the
final dot: "10 mail.example.org" for MX, the joined strings for TXT.
"""

from __future__ import annotations

import ipaddress
import time

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver
from pydantic import field_validator

from escalatord.checks.base import Check, CheckConfig
from escalatord.checks.text import format_ms
from escalatord.core.durations import format_duration
from escalatord.core.status import Result, Status
from escalatord.fields import Duration

SHOW_ANSWERS = 5  # answers listed in a summary


class DnsConfig(CheckConfig):
    query: str
    record: str = "A"
    server: str | None = None
    port: int = 53
    protocol: str = "udp"
    expect: tuple[str, ...] = ()
    expect_rcode: str = "NOERROR"
    recursion: bool = True
    max_latency: Duration | None = None

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        try:
            dns.name.from_text(value)
        except dns.exception.DNSException as exc:
            raise ValueError(f"query is not a valid DNS name: {exc}") from None
        return value

    @field_validator("record")
    @classmethod
    def _record(cls, value: str) -> str:
        try:
            dns.rdatatype.from_text(value.upper())
        except dns.exception.DNSException:
            raise ValueError(
                f"unknown record type {value!r}: use A, AAAA, CNAME, MX, TXT, NS, SRV, PTR, SOA…"
            ) from None
        return value.upper()

    @field_validator("server")
    @classmethod
    def _server(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError(
                'server must be an IP address, e.g. "10.0.0.53" or "::1" (a name would '
                "itself need DNS)"
            ) from None

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 1 <= value <= 65535:
            raise ValueError("port must be between 1 and 65535")
        return value

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, value: str) -> str:
        if value.lower() not in ("udp", "tcp"):
            raise ValueError('protocol must be "udp" or "tcp"')
        return value.lower()

    @field_validator("expect_rcode")
    @classmethod
    def _rcode(cls, value: str) -> str:
        try:
            dns.rcode.from_text(value.upper())
        except dns.exception.DNSException:
            raise ValueError(
                f"unknown rcode {value!r}: use NOERROR, NXDOMAIN, SERVFAIL, REFUSED…"
            ) from None
        return value.upper()


def normalise(value: str) -> str:
    """An answer or expected value in the form they are compared in."""
    text = value.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(text))  # "2001:DB8:0::1" == "2001:db8::1"
    except ValueError:
        return text


def answer_texts(response: dns.message.Message, rdtype: dns.rdatatype.RdataType) -> list[str]:
    """The answers of type `rdtype` (following a CNAME chain, the records at its end)."""
    out = []
    for rrset in response.answer:
        if rrset.rdtype != rdtype:
            continue
        for rdata in rrset:
            if rdtype == dns.rdatatype.TXT:
                out.append(b"".join(rdata.strings).decode("utf-8", "replace"))
            else:
                out.append(rdata.to_text())
    return out


class DnsCheck(Check):
    """One DNS query per run; see the module docstring for the keys."""

    Config = DnsConfig
    config: DnsConfig

    def _server(self) -> str:
        if self.config.server is not None:
            return self.config.server
        servers = dns.resolver.Resolver().nameservers
        if not servers:
            raise dns.exception.DNSException("no nameserver in /etc/resolv.conf: set server")
        return str(servers[0])

    async def probe(self) -> Result:
        cfg = self.config
        try:
            server = self._server()
        except dns.exception.DNSException as exc:
            return Result(Status.UNKNOWN, str(exc))
        where = f"[{server}]:{cfg.port}" if ":" in server else f"{server}:{cfg.port}"
        rdtype = dns.rdatatype.from_text(cfg.record)
        query = dns.message.make_query(
            cfg.query, rdtype, flags=dns.flags.RD if cfg.recursion else 0
        )
        started = time.perf_counter()
        try:
            if cfg.protocol == "tcp":
                response = await dns.asyncquery.tcp(query, server, port=cfg.port)
            else:
                response, _ = await dns.asyncquery.udp_with_fallback(query, server, port=cfg.port)
        except ConnectionRefusedError:
            return Result(Status.CRITICAL, f"{where} refused the query (nothing listening)")
        except OSError as exc:
            return Result(Status.CRITICAL, f"cannot reach {where}: {exc.strerror or exc}")
        except dns.exception.DNSException as exc:
            return Result(Status.CRITICAL, f"bad reply from {where}: {exc}")
        latency_ms = (time.perf_counter() - started) * 1000
        return self._judge(response, rdtype, where, latency_ms)

    def _judge(
        self,
        response: dns.message.Message,
        rdtype: dns.rdatatype.RdataType,
        where: str,
        latency_ms: float,
    ) -> Result:
        cfg = self.config
        rcode = dns.rcode.to_text(response.rcode())
        answers = sorted(answer_texts(response, rdtype))  # record sets have no order
        measurements = {"latency_ms": round(latency_ms, 3), "answers": float(len(answers))}
        shown = ", ".join(answers[:SHOW_ANSWERS]) + ("…" if len(answers) > SHOW_ANSWERS else "")
        line = f"{cfg.record} {cfg.query}: {rcode} in {format_ms(latency_ms)} ms from {where}"
        if shown:
            line += f": {shown}"
        if rcode != cfg.expect_rcode:
            return Result(Status.CRITICAL, f"{line}, expected {cfg.expect_rcode}", measurements)
        if cfg.expect_rcode == "NOERROR" and not answers:
            return Result(Status.CRITICAL, f"{line}, but no {cfg.record} records", measurements)
        have = {normalise(a) for a in answers}
        missing = [e for e in cfg.expect if normalise(e) not in have]
        if missing:
            return Result(Status.CRITICAL, f"{line}; missing {', '.join(missing)}", measurements)
        if cfg.max_latency is not None and latency_ms > cfg.max_latency.total_seconds() * 1000:
            slow = f"slower than max_latency {format_duration(cfg.max_latency)}"
            return Result(Status.WARNING, f"{line}; {slow}", measurements)
        return Result(Status.OK, line, measurements)
