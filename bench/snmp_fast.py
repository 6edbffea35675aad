"""CPU per SNMP GET: escalatord's v1/v2c fast path vs pysnmp, against a real snmpd on loopback.

    .venv/bin/python bench/snmp_fast.py [--gets 2000] [--in-flight 50] [--rounds 3]

One process, one CheckContext, one SnmpTarget per path (as a check holds it); each round runs
`--gets` GETs of SNMPv2-MIB::sysName.0 (v2c), `--in-flight` at a time, and reports this
process's CPU (user + system) per GET and the wall time. snmpd runs in its own process: its CPU
is not counted. The first request of each path (pysnmp's engine setup) is made before timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.snmp_agent import COMMUNITY, Snmpd

from escalatord.checks.base import CheckContext
from escalatord.checks.snmp.get import SnmpCheck
from escalatord.checks.snmp.session import SnmpTarget

SYS_NAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)


async def round_of(target: SnmpTarget, gets: int, in_flight: int) -> dict[str, float]:
    left = gets
    failures = 0

    async def worker() -> None:
        nonlocal left, failures
        while left > 0:
            left -= 1
            try:
                await target.get([SYS_NAME])
            except Exception:
                failures += 1

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "cpu_ms_per_get": round(cpu / gets * 1000, 3),
        "gets_per_s": round(gets / wall),
        "failures": failures,
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        agent = Snmpd(Path(tmp)).start()
        try:
            config = SnmpCheck.Config.model_validate(
                {
                    "name": "bench",
                    "type": "snmp",
                    "host": "127.0.0.1",
                    "port": agent.port,
                    "community": COMMUNITY,
                    "oid": "SNMPv2-MIB::sysName.0",
                }
            )
            context = CheckContext()
            results: dict[str, list[dict[str, float]]] = {"fast": [], "pysnmp": []}
            targets = {
                "fast": SnmpTarget(config, context, fast=True),
                "pysnmp": SnmpTarget(config, context, fast=False),
            }
            for target in targets.values():
                await target.get([SYS_NAME])  # warm-up: pysnmp's engine, the socket
            for _ in range(args.rounds):  # alternate, so load drift hits both alike
                for name, target in targets.items():
                    results[name].append(await round_of(target, args.gets, args.in_flight))
            await context.aclose()
        finally:
            agent.stop()
    out = {
        "gets": args.gets,
        "in_flight": args.in_flight,
        "loadavg_after": os.getloadavg()[0],
        **results,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gets", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
