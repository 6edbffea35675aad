"""The `tcp` check: connect to a port, optionally send a line and expect a reply.

    [[check]]
    name = "mail-relay"
    type = "tcp"
    host = "10.0.5.25"
    port = 25
    send = "QUIT\\r\\n"     # optional; TOML turns \\r\\n into CR LF
    expect = "220"          # optional: the reply must contain it
    max_latency = "500ms"   # optional: slower is a warning

Without `expect` the check measures the connect; with it, the time until `expect` is seen.
A reply that never contains `expect` runs into the check's timeout (critical, "timed out").
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

from pydantic import Field, field_validator

from escalatord.checks.base import Check, CheckConfig
from escalatord.checks.hosts import validate_host
from escalatord.checks.text import format_ms
from escalatord.core.durations import format_duration
from escalatord.core.status import Result, Status
from escalatord.fields import Duration

REPLY_CAP = 64 << 10  # bytes of reply searched for `expect` before giving up


def _preview(data: bytes, limit: int = 60) -> str:
    text = data[:limit].decode("utf-8", errors="replace")
    return repr(text) + ("…" if len(data) > limit else "")


class TcpConfig(CheckConfig):
    host: str
    port: int
    send: str | None = Field(default=None, min_length=1)
    expect: str | None = Field(default=None, min_length=1)
    max_latency: Duration | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return validate_host(value)

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 1 <= value <= 65535:
            raise ValueError("port must be between 1 and 65535")
        return value


class TcpCheck(Check):
    """One TCP connection per run; see the module docstring for the keys."""

    Config = TcpConfig
    config: TcpConfig

    async def probe(self) -> Result:
        cfg = self.config
        started = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection(cfg.host, cfg.port)
        except ConnectionRefusedError:
            return Result(Status.CRITICAL, "connection refused")
        except socket.gaierror as exc:
            return Result(Status.CRITICAL, f"DNS lookup failed for {cfg.host}: {exc.strerror}")
        except OSError as exc:
            return Result(Status.CRITICAL, f"connection failed: {exc.strerror or exc}")
        connect_ms = (time.perf_counter() - started) * 1000
        measurements = {"connect_ms": round(connect_ms, 3), "latency_ms": round(connect_ms, 3)}
        summary = f"connected in {format_ms(connect_ms)} ms"
        try:
            if cfg.send is not None:
                writer.write(cfg.send.encode())
                await writer.drain()
            if cfg.expect is not None:
                found, data = await _read_until(reader, cfg.expect.encode())
                if not found:
                    why = "the reply ended" if len(data) < REPLY_CAP else "64 KiB of reply"
                    return Result(
                        Status.CRITICAL,
                        f"{summary}, but {why} without {cfg.expect!r} (got {_preview(data)})",
                        measurements,
                    )
                latency_ms = (time.perf_counter() - started) * 1000
                measurements["latency_ms"] = round(latency_ms, 3)
                summary += f", {cfg.expect!r} received after {format_ms(latency_ms)} ms"
        except ConnectionResetError:
            return Result(Status.CRITICAL, f"{summary}, then reset by the peer", measurements)
        finally:
            writer.close()  # also when execute() cancels us at the timeout
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        if cfg.max_latency is not None:
            limit_ms = cfg.max_latency.total_seconds() * 1000
            if measurements["latency_ms"] > limit_ms:
                slow = f"slower than max_latency {format_duration(cfg.max_latency)}"
                return Result(Status.WARNING, f"{summary}, {slow}", measurements)
        return Result(Status.OK, summary, measurements)


async def _read_until(reader: asyncio.StreamReader, needle: bytes) -> tuple[bool, bytes]:
    """Read until `needle` appears (True), or EOF or REPLY_CAP bytes come first (False)."""
    data = b""
    while len(data) < REPLY_CAP:
        chunk = await reader.read(4096)
        if not chunk:
            return False, data
        data += chunk
        if needle in data:
            return True, data
    return False, data
