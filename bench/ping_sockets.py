"""Ping many hosts: icmplib's async_multiping (a socket per host) vs one shared socket.

    sudo .venv/bin/python bench/ping_sockets.py                 # N = 1,000 and 10,000
    sudo .venv/bin/python bench/ping_sockets.py --sizes 1000 --repeat 5

Every variant sends one echo request (count=1) to each of N distinct 127.x.y.z addresses,
all started at once, with privileged (raw) sockets, so it needs root or CAP_NET_RAW.
Nothing leaves the machine: 127.0.0.0/8 is answered by the local kernel.

Variants:
  multiping-50    icmplib.async_multiping, its default concurrent_tasks=50
  multiping-500   the same with concurrent_tasks=500
  shared-pinger   escalatord.checks.ping.pinger.Pinger: one socket, one reader, futures
  ping-checks     N PingCheck objects run through execute(), as the daemon does

Reported per variant (median of --repeat runs): wall seconds, probes/s, CPU seconds per
1,000 probes (user + system, from resource.getrusage of this process), replies received.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial

from icmplib import async_multiping

from escalatord.checks.base import CheckContext, execute
from escalatord.checks.ping.check import PingCheck
from escalatord.checks.ping.pinger import Pinger
from escalatord.core.status import Status

WAIT = 2.0  # seconds each request may wait for its reply


def addresses(n: int) -> list[str]:
    """N distinct loopback addresses, skipping .0 and .255 host parts."""
    out: list[str] = []
    i = 1
    while len(out) < n:
        b, c, d = (i >> 16) & 255, (i >> 8) & 255, i & 255
        if d not in (0, 255):
            out.append(f"127.{b}.{c}.{d}")
        i += 1
    return out


async def run_multiping(addrs: list[str], concurrency: int) -> int:
    hosts = await async_multiping(
        addrs, count=1, timeout=WAIT, concurrent_tasks=concurrency, privileged=True
    )
    return sum(h.packets_received for h in hosts)


async def run_shared(addrs: list[str]) -> int:
    pinger = Pinger(4, privileged=True)
    try:
        results = await asyncio.gather(*(pinger.ping(a, count=1, wait=WAIT) for a in addrs))
    finally:
        pinger.close()
    return sum(r.received for r in results)


def make_checks(addrs: list[str]) -> tuple[CheckContext, list[PingCheck]]:
    """Checks as the daemon holds them: built once from config, outside the timed part."""
    context = CheckContext(icmp_privileged=True)
    checks = [
        PingCheck(
            PingCheck.Config(name=f"h{i}", type="ping", host=a, count=1, timeout="3s"), context
        )
        for i, a in enumerate(addrs)
    ]
    return context, checks


async def run_checks(context: CheckContext, checks: list[PingCheck]) -> int:
    try:
        results = await asyncio.gather(*(execute(c) for c in checks))
    finally:
        await context.aclose()
    return sum(r.status is Status.OK for r in results)


def measure(work: Callable[[], Awaitable[int]]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, replies) of one run in a fresh event loop."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    replies = asyncio.run(work())  # type: ignore[arg-type]
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, replies


def report(name: str, n: int, runs: list[tuple[float, float, int]]) -> None:
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    replies = min(r[2] for r in runs)
    print(
        f"{name:<15}{n:>7}{wall:>9.3f}{n / wall:>10.0f}{cpu / n * 1000:>10.3f}{replies:>9}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    try:
        Pinger(4, privileged=True).close()
    except Exception as exc:
        print(f"cannot open a raw ICMP socket: {exc}", file=sys.stderr)
        return 2
    print(
        f"# {datetime.now(UTC):%Y-%m-%d} · {os.cpu_count()} cores · Python "
        f"{platform.python_version()} · {platform.system()} {platform.release()}"
    )
    print(f"# count=1, wait {WAIT}s, median of {args.repeat} runs")
    header = f"{'variant':<15}{'N':>7}{'wall s':>9}{'probes/s':>10}{'CPU s/1k':>10}{'replies':>9}"
    print(header)
    for n in args.sizes:
        addrs = addresses(n)
        variants: dict[str, Callable[[], Awaitable[int]]] = {
            "multiping-50": partial(run_multiping, addrs, 50),
            "multiping-500": partial(run_multiping, addrs, 500),
            "shared-pinger": partial(run_shared, addrs),
        }
        for name, work in variants.items():
            report(name, n, [measure(work) for _ in range(args.repeat)])
        # A fresh context and fresh checks per run: the first run may not warm the next.
        runs = [measure(partial(run_checks, *make_checks(addrs))) for _ in range(args.repeat)]
        report("ping-checks", n, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
