"""The same probes as the daemon's checks, with the bare libraries and no daemon around them.

    sudo .venv/bin/python bench/scenarios.py baseline --rate 167 --seconds 60

One process, one asyncio loop (the daemon's loop type), paced: every 10 ms it starts as many
probes as are due at `rate` per second, in turn over the mix's kinds, each as a task:

- ping: three echo requests 200 ms apart (the daemon's `count = 3`), to a distinct
  127.x.y.z per probe slot, through escalatord's shared-socket `Pinger` by default, or
  icmplib's `async_ping` (`--ping-lib icmplib`). The shared socket is the default because it
  is the probe path the daemon uses (`checks/ping/pinger.py`): the ratio then measures what the
  daemon adds around a probe, not the difference between two ICMP libraries. icmplib's
  figure is recorded beside it (a socket per call, ~3× the CPU: bench/ping_sockets.py).
- http: GET through one shared `httpx.AsyncClient` (keep-alive, trust_env off), reading the
  body; or (`--http-lib escalatord`) through escalatord's own `checks/http/client.py`, which
  the daemon's http checks use since the first round of speed work: then the ratio is the
  daemon's overhead around the very same probe code.
- snmp: pysnmp 7 `get_cmd` on one `SnmpEngine`, v2c, one transport target reused; or
  (`--snmp-lib raw`) bench/rawsnmp.py, a minimal hand-written v2c GET on one UDP socket: the
  floor an SNMP fast path could reach.
- tcp: asyncio `open_connection` and close.

CPU is this process's user + system time (os.times) over the measured window, like the
daemon's, per 1,000 completed probes.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import Counter

import httpx
from targets import COMMUNITY, SNMP_OIDS, SnmpAgent, Targets
from workload import kinds_of, loopback_addresses


async def _probe_loop(
    kinds: tuple[str, ...],
    rate: float,
    warmup: float,
    seconds: float,
    targets: Targets,
    snmp_port: int | None,
    ping_lib: str,
    http_lib: str,
    snmp_lib: str,
    slots: int,
) -> dict:
    done: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    addresses = [a for a, _ in zip(loopback_addresses(), range(slots), strict=False)]
    client = httpx.AsyncClient(
        trust_env=False,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=256),
        timeout=None,
    )

    pinger = None
    if "ping" in kinds and ping_lib == "pinger":
        from escalatord.checks.ping.pinger import Pinger

        pinger = Pinger(4, privileged=True)

    snmp = raw = None
    if "snmp" in kinds and snmp_lib == "raw":
        from rawsnmp import RawSnmp, encode_oid

        raw = await RawSnmp.open()
        raw_oids = [(encode_oid(o), SNMP_OIDS[o]) for o in sorted(SNMP_OIDS)]
    elif "snmp" in kinds:
        from pysnmp.hlapi.v3arch.asyncio import (
            CommunityData,
            ContextData,
            ObjectIdentity,
            ObjectType,
            SnmpEngine,
            UdpTransportTarget,
            get_cmd,
        )

        engine = SnmpEngine()
        transport = await UdpTransportTarget.create(("127.0.0.1", snmp_port), timeout=2, retries=0)
        community = CommunityData(COMMUNITY, mpModel=1)
        context = ContextData()
        oids = sorted(SNMP_OIDS)
        snmp = (engine, transport, community, context, oids)

    async def ping(n: int) -> bool:
        address = addresses[n % slots]
        if pinger is not None:
            stats = await pinger.ping(address, count=3, interval=0.2, wait=2.0)
            return stats.received == 3
        from icmplib import async_ping

        host = await async_ping(address, count=3, interval=0.2, timeout=2, privileged=True)
        return host.packets_received == 3

    if http_lib == "escalatord":
        from escalatord.checks.http import client as http_client

        own = http_client.Client()
        prepared = []
        for i in range(slots):
            target = http_client.Target.parse(targets.http_url(i))
            prepared.append((target, http_client.build_request(target, "GET", {}, None, "b/1")))

    async def http(n: int) -> bool:
        if http_lib == "escalatord":
            target, request = prepared[n % slots]
            reply = await own.request(target, request, cap=65536, tls=None)
            return reply.status == 200 and reply.body == b"ok"
        response = await client.get(targets.http_url(n % slots))
        return response.status_code == 200 and response.content == b"ok"

    async def snmp_get(n: int) -> bool:
        if raw is not None:
            oid_ber, expected = raw_oids[n % len(raw_oids)]
            value = await raw.get(("127.0.0.1", snmp_port), COMMUNITY.encode(), oid_ber)
            return value == expected
        engine, transport, community, context, oids = snmp
        oid = oids[n % len(oids)]
        error, status, _index, binds = await get_cmd(
            engine, community, transport, context, ObjectType(ObjectIdentity(oid))
        )
        return not error and not status and str(binds[0][1]) == SNMP_OIDS[oid]

    async def tcp(n: int) -> bool:
        port = targets.tcp_ports[n % len(targets.tcp_ports)]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        await writer.wait_closed()
        return True

    probes = {"ping": ping, "http": http, "snmp": snmp_get, "tcp": tcp}
    running: set[asyncio.Task] = set()

    async def one(kind: str, n: int) -> None:
        try:
            ok = await asyncio.wait_for(probes[kind](n), 10)
        except Exception as exc:
            ok = False
            errors[f"{kind}: {type(exc).__name__}"] += 1
        (done if ok else failed)[kind] += 1

    loop = asyncio.get_running_loop()
    started = loop.time()
    launched = 0
    mark = None
    end = started + warmup + seconds
    while (now := loop.time()) < end:
        if mark is None and now >= started + warmup:
            cpu = os.times()
            mark = (now, cpu.user + cpu.system, sum(done.values()), os.getloadavg())
        due = int((now - started) * rate)
        while launched < due:
            kind = kinds[launched % len(kinds)]
            task = asyncio.create_task(one(kind, launched // len(kinds)))
            running.add(task)
            task.add_done_callback(running.discard)
            launched += 1
        await asyncio.sleep(0.01)
    cpu = os.times()
    now = loop.time()
    completed = sum(done.values()) - mark[2]
    used = cpu.user + cpu.system - mark[1]
    if running:
        await asyncio.wait(running, timeout=15)
    await client.aclose()
    if pinger is not None:
        pinger.close()
    return {
        "completed_per_s": round(completed / (now - mark[0]), 1),
        "cpu_s_per_1000": round(used * 1000 / max(1, completed), 3),
        "cpu_pct_of_one_core": round(100 * used / (now - mark[0]), 1),
        "ok": dict(done),
        "failed": dict(failed),
        "errors": dict(errors),
        "loadavg_before": [round(x, 2) for x in mark[3]],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def baseline(
    mix: str,
    rate: float,
    seconds: float,
    *,
    warmup: float = 5.0,
    snmp_agent: str = "snmpd",
    ping_lib: str = "pinger",
    http_lib: str = "httpx",
    snmp_lib: str = "pysnmp",
    slots: int = 3334,
) -> dict:
    """Run the bare-library probe loop for `mix` at `rate` probes/s; its figures."""
    kinds = kinds_of(mix)
    targets = Targets()
    snmp = None
    try:
        if "snmp" in kinds:
            snmp = SnmpAgent(snmp_agent)
        time.sleep(1.0)  # the targets subprocess imports uvicorn; its sockets queue meanwhile
        print(f"baseline: {mix} at {rate:g}/s for {seconds:g} s", file=sys.stderr)
        snmp_cpu0 = snmp.cpu_seconds() if snmp else 0.0
        result = asyncio.run(
            _probe_loop(
                kinds,
                rate,
                warmup,
                seconds,
                targets,
                snmp and snmp.port,
                ping_lib,
                http_lib,
                snmp_lib,
                slots,
            )
        )
        if snmp is not None:
            result["snmp_agent_cpu_s"] = round(snmp.cpu_seconds() - snmp_cpu0, 2)
    finally:
        try:
            targets.stop()
        finally:
            if snmp is not None:
                snmp.stop()
    return {
        "type": mix,
        "rate": rate,
        "seconds": seconds,
        "ping_lib": ping_lib if "ping" in kinds else None,
        "http_lib": http_lib if "http" in kinds else None,
        "snmp_lib": snmp_lib if "snmp" in kinds else None,
        "snmp_agent": snmp_agent if "snmp" in kinds else None,
        **result,
    }
