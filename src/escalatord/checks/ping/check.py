"""The `ping` check: ICMP echo to one host through the process-wide shared socket.

    [[check]]
    name = "hq-core-router"
    type = "ping"
    host = "10.0.0.1"          # IPv4 or IPv6 literal, or a name (resolved every run)
    count = 3                  # echo requests per run, 1..20
    packet_interval = "200ms"  # between them
    max_loss = "50%"           # loss above it is critical; no reply at all always is
    max_rtt = "200ms"          # optional: an average above it is a warning

Privilege is process-wide (`[daemon] icmp_privileged`); when the socket cannot be opened the
result is `unknown` with the fix in its summary.
"""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

from pydantic import field_validator, model_validator

from escalatord.checks.base import Check, CheckConfig, CheckContext
from escalatord.checks.hosts import ip_literal, validate_host
from escalatord.checks.ping.pinger import IcmpUnavailable, PingStats, family_of, shared_pinger
from escalatord.checks.text import format_ms
from escalatord.core.durations import format_duration
from escalatord.core.status import Result, Status
from escalatord.fields import Duration, Percent


def format_pct(pct: float) -> str:
    return f"{round(pct, 1):g}%"


class PingConfig(CheckConfig):
    host: str
    count: int = 3
    packet_interval: Duration = timedelta(milliseconds=200)
    max_loss: Percent = 50.0
    max_rtt: Duration | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return validate_host(value)

    @field_validator("count")
    @classmethod
    def _count(cls, value: int) -> int:
        if not 1 <= value <= 20:
            raise ValueError("count must be between 1 and 20 echo requests per run")
        return value

    @model_validator(mode="after")
    def _fits_in_timeout(self) -> PingConfig:
        spread = (self.count - 1) * self.packet_interval
        if spread >= self.timeout:
            raise ValueError(
                f"count × packet_interval ({self.count - 1} gaps of "
                f"{format_duration(self.packet_interval)}) does not fit in timeout "
                f"({format_duration(self.timeout)}): lower count or packet_interval, "
                "or raise timeout"
            )
        return self


def assess(stats: PingStats, config: PingConfig, target: str = "") -> Result:
    """Turn the echoes of one run into a Result (pure: no I/O, no clock)."""
    lost = stats.sent - stats.received
    suffix = f" ({target})" if target else ""
    measurements: dict[str, float] = {
        "sent": float(stats.sent),
        "received": float(stats.received),
        "loss_pct": round(stats.loss_pct, 2),
    }
    if not stats.received:
        why = "; ".join(stats.errors)
        summary = f"no reply, {lost}/{stats.sent} lost" + (f": {why}" if why else "") + suffix
        return Result(Status.CRITICAL, summary, measurements)
    rtts = stats.rtts_ms
    avg = sum(rtts) / len(rtts)
    measurements.update(
        rtt_min_ms=round(min(rtts), 3), rtt_avg_ms=round(avg, 3), rtt_max_ms=round(max(rtts), 3)
    )
    loss = format_pct(stats.loss_pct)
    if stats.loss_pct > config.max_loss:
        why = f": {'; '.join(stats.errors)}" if stats.errors else ""
        summary = (
            f"{lost}/{stats.sent} lost ({loss}, above max_loss {format_pct(config.max_loss)})"
            f"{why}, rtt avg {format_ms(avg)} ms{suffix}"
        )
        return Result(Status.CRITICAL, summary, measurements)
    if config.max_rtt is not None and avg > config.max_rtt.total_seconds() * 1000:
        summary = (
            f"rtt avg {format_ms(avg)} ms, above max_rtt {format_duration(config.max_rtt)}, "
            f"loss {loss}{suffix}"
        )
        return Result(Status.WARNING, summary, measurements)
    return Result(Status.OK, f"rtt avg {format_ms(avg)} ms, loss {loss}{suffix}", measurements)


class PingCheck(Check):
    """ICMP echo through the shared socket; see the module docstring for the keys."""

    Config = PingConfig
    config: PingConfig

    def __init__(self, config: PingConfig, context: CheckContext):
        super().__init__(config, context)
        self._literal = ip_literal(config.host)  # None for a name: resolved on every run

    async def probe(self) -> Result:
        cfg = self.config
        try:
            address = self._literal or await _resolve(cfg.host)
        except OSError as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            return Result(Status.CRITICAL, f"DNS lookup failed for {cfg.host}: {reason}")
        try:
            pinger = shared_pinger(self.context, family_of(address))
        except IcmpUnavailable as exc:
            return Result(Status.UNKNOWN, str(exc))
        # Return before execute()'s hard timeout so a silent host reads "no reply", not
        # "timed out": keep a margin of 10% (at most 1 s) for scheduling.
        timeout = cfg.timeout.total_seconds()
        interval = cfg.packet_interval.total_seconds()
        budget = timeout - min(1.0, timeout * 0.1)
        wait = max(0.01, budget - (cfg.count - 1) * interval)
        stats = await pinger.ping(address, count=cfg.count, interval=interval, wait=wait)
        return assess(stats, cfg, target=address if address != cfg.host else "")


async def _resolve(host: str) -> str:
    """The first address of a host name, in the system's order of preference."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_RAW)
    # A link-local IPv6 answer carries its scope in the sockaddr, not the text.
    family, _type, _proto, _name, sockaddr = infos[0]
    if family == socket.AF_INET6 and sockaddr[3]:
        return f"{sockaddr[0]}%{sockaddr[3]}"
    return str(sockaddr[0])
