"""One server, one verdict: odd HTTP servers on loopback, each run through both of the http
check's paths — the lean client (http_client.py) and httpx (`follow_redirects = true`) — must
get the same status, and a summary that names the cause (http_body.py has the verdicts)."""

from __future__ import annotations

import asyncio
import gzip
import random
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from escalatord.checks.base import CheckContext, execute
from escalatord.checks.http.check import HttpCheck
from escalatord.core.status import Result, Status

OK, CRITICAL = Status.OK, Status.CRITICAL
BROKE = "broke the HTTP protocol"


class OddServer:
    """A raw TCP server on 127.0.0.1 that answers every request head with the given bytes,
    written in `pieces` (a list: one write each, as embedded servers write line by line),
    then hangs up or, with `close=False`, waits for the next request on the connection."""

    def __init__(self, reply: bytes | list[bytes], close: bool):
        self.pieces = reply if isinstance(reply, list) else [reply]
        self.close = close
        self.connections = 0
        self.requests = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                self.requests += 1
                for i, piece in enumerate(self.pieces):
                    if i:
                        # Let the previous piece reach the client on its own, as a server
                        # writing line by line makes it (a pause, not a synchronisation).
                        await asyncio.sleep(0.02)
                    writer.write(piece)
                    await writer.drain()
                if self.close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client hung up: a cut reply, or one it refused
        writer.close()


def reply(*head: str, body: bytes = b"", status: str = "200 OK", eol: str = "\r\n") -> bytes:
    return eol.join([f"HTTP/1.1 {status}", *head, "", ""]).encode("latin-1") + body


def coded(coding: str, body: bytes, data: bytes | None = None) -> bytes:
    """A reply whose body is `data` (default: `body` compressed as `coding`)."""
    if data is None:
        if coding == "gzip":
            data = gzip.compress(body)
        elif coding == "deflate":
            data = zlib.compress(body)
        else:  # raw deflate, which servers send for "deflate" too
            packer = zlib.compressobj(wbits=-15)
            data, coding = packer.compress(body) + packer.flush(), "deflate"
    return reply(f"Content-Length: {len(data)}", f"Content-Encoding: {coding}", body=data)


CHUNKED = "Transfer-Encoding: chunked"
NOISE = random.Random(11).randbytes(200_000)  # does not compress: its gzip is as long


@dataclass
class Case:
    id: str
    reply: bytes | list[bytes]
    status: Status
    says: str = ""  # in both summaries
    keys: dict[str, Any] = field(default_factory=lambda: {"body_contains": "ok"})
    close: bool = True


CASES = [
    # Bodies cut short: the server hangs up before the promised end.
    Case("length-cut-short", reply("Content-Length: 100", body=b"ok 4567890"), CRITICAL,
         "cut short: the server closed the connection after 10 of 100 bytes"),
    Case("chunk-cut-mid-chunk", reply(CHUNKED, body=b"10\r\nok 4567"), CRITICAL, "cut short"),
    Case("chunks-cut-before-the-last", reply(CHUNKED, body=b"2\r\nok\r\n"), CRITICAL, "cut short"),
    Case("last-chunk-without-end", reply(CHUNKED, body=b"2\r\nok\r\n0\r\n"), CRITICAL, "cut short"),
    Case("head-cut", [b"HTTP/1.1 200 OK\r\nContent-Le"], CRITICAL, "without sending a response"),
    Case("no-reply", [b""], CRITICAL, "without sending a response"),
    # Bare LF line endings (embedded devices) are read; chunk framing needs CRLF on both paths.
    Case("bare-lf", reply("Content-Length: 2", body=b"ok", eol="\n"), OK),
    Case("bare-lf-no-length", reply("Connection: close", body=b"ok", eol="\n"), OK),
    Case("bare-lf-chunk-framing", reply(CHUNKED, body=b"2\nok\n0\n\n", eol="\n"), CRITICAL, BROKE),
    # Content codings: decoded, and a body that does not decode is a failure.
    Case("gzip", coded("gzip", b"ok"), OK),
    Case("gzip-not-gzip", coded("gzip", b"", b"ok plain"), CRITICAL, "not valid gzip", {}),
    Case("gzip-stream-cut", coded("gzip", b"", gzip.compress(NOISE[:3000])[:-30]), CRITICAL,
         "stops before its stream ends", {}),
    Case("gzip-beyond-the-cap", coded("gzip", NOISE), OK, "", {}),  # cut at the cap
    Case("deflate-zlib", coded("deflate", b"ok"), OK),
    Case("deflate-raw", coded("raw", b"ok"), OK),
    Case("deflate-not-deflate", coded("deflate", b"", b"ok plain"), CRITICAL, "not valid deflate"),
    Case("coding-not-asked-for", coded("UTF-8", b"", b"ok"), OK),
    Case("gzip-empty-body", coded("gzip", b"", b""), OK, "", {}),
    # How a body ends.
    Case("no-length-then-close", reply("Connection: close", body=b"ok, all of it"), OK),
    Case("http-1.0-no-length", b"HTTP/1.0 200 OK\r\n\r\nok", OK),
    Case("chunk-extensions", reply(CHUNKED, body=b"2;name=value\r\nok\r\n0\r\n\r\n"), OK),
    Case("trailers", reply(CHUNKED, "Trailer: X-T", body=b"2\r\nok\r\n0\r\nX-T: 1\r\n\r\n"), OK),
    Case("chunk-size-padded", reply(CHUNKED, body=b"2  \r\nok\r\n0\r\n\r\n"), OK),
    Case("length-twice-same", reply("Content-Length: 2", "Content-Length: 2", body=b"ok"), OK),
    Case("length-list-same", reply("Content-Length: 2, 2", body=b"ok"), OK),
    Case("length-twice-different", reply("Content-Length: 2", "Content-Length: 3", body=b"ok!"),
         CRITICAL, "Content-Length"),
    Case("length-not-a-number", reply("Content-Length: two", body=b"ok"), CRITICAL, BROKE),
    Case("chunked-and-length", reply(CHUNKED, "Content-Length: 2", body=b"2\r\nok\r\n0\r\n\r\n"),
         CRITICAL, "Transfer-Encoding"),
    Case("transfer-coding-gzip", reply("Transfer-Encoding: gzip, chunked", body=b"2\r\nok\r\n"),
         CRITICAL, "Transfer-Encoding"),
    Case("transfer-coding-unknown", reply("Transfer-Encoding: foo", body=b"ok"), CRITICAL,
         "Transfer-Encoding"),
    # Heads.
    Case("interim-replies-first", reply(status="100 Continue") + reply(
         "Link: </a>", status="103 Early Hints") + reply("Content-Length: 2", body=b"ok"), OK),
    Case("switching-protocols", reply("Upgrade: websocket", status="101 Switching Protocols"),
         CRITICAL, "switched protocols"),
    Case("no-content", reply(status="204 No Content"), OK, "", {}),
    Case("not-modified-with-length", reply("Content-Length: 100", status="304 Not Modified"),
         OK, "", {}),
    Case("head-with-length", reply("Content-Length: 1000"), OK, "", {"method": "HEAD"}),
    Case("no-reason-phrase", reply("Content-Length: 2", body=b"ok", status="200"), OK),
    Case("head-of-50-kib", reply("X-Big: " + "a" * 50_000, "Content-Length: 2", body=b"ok"), OK),
    Case("head-of-1-mib", reply("X-Big: " + "a" * (1 << 20), "Content-Length: 2", body=b"ok"),
         CRITICAL, "head is over 100 KiB"),
    Case("folded-header", reply("X-A: a", " b", "Content-Length: 2", body=b"ok"), OK),
    Case("fold-and-length-line-by-line",
         [b"HTTP/1.1 200 OK\r\n", b"X-A: a\r\n", b"\tb\r\n", b"Content-Length: 2\r\n",
          b"Content-Length: 2\r\n", b"\r\nok"], OK),
    Case("fold-after-status-line", reply(" X-A: a", "Content-Length: 2", body=b"ok"), CRITICAL,
         BROKE),
    Case("empty-line-first", b"\r\n" + reply("Content-Length: 2", body=b"ok"), CRITICAL, BROKE),
    Case("status-not-a-number", reply("Content-Length: 2", body=b"ok", status="2x0 OK"), CRITICAL,
         BROKE),
    Case("not-http", b"ok\r\n", CRITICAL, BROKE),
    Case("space-before-colon", reply("Content-Length : 2", body=b"ok"), CRITICAL, BROKE),
    Case("control-byte-in-header", reply("X-A: a\x00b", "Content-Length: 2", body=b"ok"), CRITICAL,
         BROKE),
    Case("status-999", reply("Content-Length: 2", body=b"ok", status="999 Odd"), CRITICAL,
         "expected 2xx or 3xx"),
]  # fmt: skip


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Case], Any]]:
    servers: list[OddServer] = []

    async def start(case: Case) -> tuple[OddServer, str]:
        server = OddServer(case.reply, case.close)
        servers.append(server)
        return server, await server.start()

    yield start
    for server in servers:
        assert server.server is not None
        server.server.close()


@pytest.fixture
async def context() -> AsyncIterator[CheckContext]:
    ctx = CheckContext()
    yield ctx
    await ctx.aclose()


def checks(context: CheckContext, url: str, keys: dict[str, Any]) -> dict[str, HttpCheck]:
    """The same check on both paths: lean (no redirects) and httpx (follow_redirects)."""
    return {
        path: HttpCheck(
            HttpCheck.Config(
                name=f"odd-{path}", type="http", url=url + "/health", timeout="5s",
                follow_redirects=path == "httpx", **keys,
            ),
            context,
        )
        for path in ("lean", "httpx")
    }  # fmt: skip


def verdicts(results: dict[str, Result]) -> dict[str, Status]:
    return {path: result.status for path, result in results.items()}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_both_paths_give_an_odd_server_the_same_verdict(serve, context, case):
    """Each odd reply gets the same status from the lean client and from httpx, and both
    summaries name the cause (a cut-short body, a bad gzip stream, a broken head…)."""
    _server, url = await serve(case)
    results = {
        path: await execute(check) for path, check in checks(context, url, case.keys).items()
    }
    summaries = {path: result.summary for path, result in results.items()}
    assert verdicts(results) == {"lean": case.status, "httpx": case.status}, summaries
    for summary in summaries.values():
        assert case.says in summary


@pytest.mark.parametrize(
    "reply",
    [
        reply("Content-Length: 2", body=b"ok"),
        reply("Content-Length: 2", body=b"ok", eol="\n"),
        reply(CHUNKED, body=b"2\r\nok\r\n0\r\n\r\n"),
        coded("gzip", b"ok"),
    ],
    ids=["length", "bare-lf", "chunked", "gzip"],
)
async def test_both_paths_reuse_a_kept_alive_connection(serve, context, reply):
    """Three runs on each path are ok and each path uses one kept-alive connection."""
    server, url = await serve(Case("keep-alive", reply, OK, close=False))
    for path, check in checks(context, url, {"body_contains": "ok"}).items():
        before = server.connections
        for _ in range(3):
            result = await execute(check)
            assert result.status is OK, (path, result.summary)
        assert server.connections - before == 1, path
