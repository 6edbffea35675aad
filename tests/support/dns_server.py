"""A small authoritative DNS server on loopback for tests, answering over UDP and TCP.

It runs in the test's event loop, binds a free port on 127.0.0.1 (UDP and TCP on the same
number) and answers from a dict of records built with dnspython. Names it does not know get
NXDOMAIN; names in `servfail` get SERVFAIL; names in `silent` get no answer at all (a dead
server); answers for names in `truncate` are sent truncated over UDP, so a client must retry
over TCP. `queries` records (transport, name, type) of every question asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Records = dict[tuple[str, str], list[str]]  # (name, type) -> rdata in text form


class DnsServer:
    def __init__(self, records: Records, ttl: int = 60):
        self.records = {(n.lower().rstrip("."), t.upper()): v for (n, t), v in records.items()}
        self.ttl = ttl
        self.servfail: set[str] = set()
        self.silent: set[str] = set()
        self.truncate: set[str] = set()
        self.queries: list[tuple[str, str, str]] = []
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    def answer(self, wire: bytes, transport: str) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text().lower().rstrip(".")
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((transport, name, rdtype))
        if name in self.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif not any(n == name for n, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif transport == "udp" and name in self.truncate:
            response.flags |= dns.flags.TC
        else:
            self._add_answers(response, question.name, name, rdtype)
        return response.to_wire()

    def _add_answers(self, response: Any, qname: dns.name.Name, name: str, rdtype: str) -> None:
        cname = self.records.get((name, "CNAME"))
        if cname and rdtype != "CNAME":  # follow one CNAME, as a resolver's answer would show
            response.answer.append(
                dns.rrset.from_text_list(qname, self.ttl, dns.rdataclass.IN, "CNAME", cname)
            )
            target = cname[0].lower().rstrip(".")
            qname, name = dns.name.from_text(cname[0]), target
        values = self.records.get((name, rdtype))
        if values:
            response.answer.append(
                dns.rrset.from_text_list(qname, self.ttl, dns.rdataclass.IN, rdtype, values)
            )

    async def __aenter__(self) -> DnsServer:
        loop = asyncio.get_running_loop()
        server = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: Any) -> None:
                reply = server.answer(data, "udp")
                if reply is not None:
                    self.transport.sendto(reply, addr)

        # TCP first on port 0, then UDP on the same number (free for UDP almost always).
        self._tcp = await asyncio.start_server(self._serve_tcp, "127.0.0.1", 0)
        self.port = self._tcp.sockets[0].getsockname()[1]
        self._udp, _ = await loop.create_datagram_endpoint(Udp, local_addr=("127.0.0.1", self.port))
        return self

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = self.answer(await reader.readexactly(length), "tcp")
                if reply is None:
                    continue
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        writer.close()

    async def __aexit__(self, *exc: object) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
