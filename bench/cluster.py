"""A cluster on one machine: N `escalatord run` nodes on one throwaway PostgreSQL (issue 17).

    .venv/bin/python bench/cluster.py                      # 4 nodes, 25,000 mixed checks, 30 s
    .venv/bin/python bench/cluster.py --nodes 2 --checks 2000 --seconds 20 --json

Starts a PostgreSQL cluster (tests/support/postgres.py: initdb and pg_ctl in a temp dir, as the
`postgres` user when root), the local targets and SNMP agent (targets.py), and N nodes with the
same generated config (workload.py) plus `[cluster]` (each its own `node` and `listen`). Once
every node sees all N live and the shares add up to every check, it warms up, then measures
for --seconds: per node its share (`escalatord_cluster_checks_owned`), completed checks/s,
CPU, lateness and peak RSS; in total checks/s against the load (checks / interval), CPU
seconds per 1,000 checks of all nodes, and the CPU of the PostgreSQL processes (postmaster
and backends, reaped ones included) as a share of all the CPU the benchmark's processes used.

Then it kills the last node with SIGKILL, one second before its first check falls due, and
measures the failover (bench/README.md defines each figure): kill → the survivors own every
check; kill → every check of the dead node has run again on a survivor (its `last_check_at`
in the database moved); and how late those runs were against their schedule (the run before
the kill + one interval).

Root is needed (ping checks, and initdb runs as `postgres`); Linux only; loopback only.
Every child is stopped on exit, Ctrl-C or SIGTERM; the database cluster is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support.postgres

import asyncpg
from checks import default_warmup
from daemon import Daemon, Snapshot, cpu_seconds, peak_rss_mb, rate
from session import Session, free_tcp_port, machine
from tests.support import postgres
from workload import KINDS, MIXES, Workload, config_text

from escalatord.core import rendezvous
from escalatord.core.durations import format_duration, parse_duration

# Seconds before the dead node's first check falls due that it is killed.
KILL_LEAD = 1.0


class Node:
    """One `escalatord run` with its own config file (node name and port), scraped from outside."""

    def __init__(self, name: str, session: Session, workload: Workload, url: str, failover: str):
        self.name = name
        self.port = free_tcp_port()
        snmp_port = session.snmp.port if session.snmp else None
        text = config_text(workload, session.targets, session.workdir, self.port, snmp_port)
        sqlite = f'database = "sqlite:///{session.workdir}/escalatord.db"'
        if sqlite not in text:
            raise RuntimeError("workload.config_text no longer writes the database line expected")
        text = text.replace(sqlite, f'database = "{url}"', 1)
        text += f'\n[cluster]\nnode = "{name}"\nfailover = "{failover}"\n'
        config = session.workdir / f"{name}.toml"
        config.write_text(text)
        self.daemon = Daemon(config, self.port, session.workdir / f"{name}.log")

    def scrape(self) -> tuple[Snapshot, dict[str, float]]:
        """One /metrics read: the throughput snapshot and the raw metrics (cluster ones)."""
        self.daemon.alive()
        cpu = cpu_seconds(self.daemon.pid)
        text = self.daemon.client.get("/metrics").text
        raw = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                raw[name.removeprefix("escalatord_")] = float(value)
        return Snapshot.parse(time.monotonic(), cpu, text), raw


def postmaster_pid(cluster: postgres.PostgresCluster) -> int:
    return int((cluster.root / "data" / "postmaster.pid").read_text().split()[0])


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine from /proc/stat (busy = all but idle, iowait)."""
    with open("/proc/stat") as fh:
        f = [int(x) for x in fh.readline().split()[1:]]
    return sum(f) - f[3] - f[4], sum(f)


def wait_formed(nodes: list[Node], checks: int, timeout: float) -> float:
    """Wait until every node sees all of them live and their shares add up to every check."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        raws = [n.scrape()[1] for n in nodes]
        live = [r.get("cluster_nodes_live", 0) for r in raws]
        owned = sum(r.get("cluster_checks_owned", 0) for r in raws)
        if min(live) == len(nodes) and owned == checks:
            return time.monotonic() - start
        time.sleep(0.2)
    raise RuntimeError(
        f"the cluster did not form within {timeout:.0f} s: live {live}, owned {owned}"
    )


def watch_all(nodes: list[Node], seconds: float, every: float, label: str) -> list[list[Snapshot]]:
    """Scrape every node every `every` s for `seconds`; per scrape, one snapshot per node."""
    end = time.monotonic() + seconds
    seen = [[n.scrape()[0] for n in nodes]]
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(every, left))
        seen.append(now := [n.scrape()[0] for n in nodes])
        total = sum(rate(a, b) for a, b in zip(seen[-2], now, strict=True))
        p99 = max(s.p99 for s in now) * 1000
        print(f"  {label}: {total:7.1f} checks/s, worst node p99 {p99:.0f} ms", file=sys.stderr)
    return seen


async def last_runs(url: str, checks: list[str]) -> dict[str, float]:
    """Each check's `last_check_at` (epoch seconds) in the database; absent when it never ran."""
    db = await asyncpg.connect(url)
    try:
        rows = await db.fetch(
            'SELECT "check", extract(epoch FROM last_check_at)::float8 AS at FROM check_states '
            'WHERE "check" = ANY($1::text[]) AND last_check_at IS NOT NULL',
            checks,
        )
    finally:
        await db.close()
    return {r["check"]: r["at"] for r in rows}


def failover(
    nodes: list[Node], url: str, names: list[str], interval: float, timeout: float
) -> tuple[dict, dict]:
    """Kill the last node with SIGKILL; time the takeover and the re-runs of its checks."""
    victim, survivors = nodes[-1], nodes[:-1]
    mine = sorted(rendezvous.owned(names, victim.name, [n.name for n in nodes]))
    # The worst moment: just before its first check falls due, so that checks come due while
    # nobody owns them (at once when some is already due, as with runs spread over the interval).
    due = min(asyncio.run(last_runs(url, mine)).values(), default=0.0) + interval
    time.sleep(min(interval, max(0.0, due - KILL_LEAD - time.time())))
    killed = time.time()
    os.kill(victim.daemon.pid, signal.SIGKILL)
    victim.daemon.proc.wait(10)
    before = asyncio.run(last_runs(url, mine))  # final: a dead node flushes nothing more
    print(f"  killed {victim.name} ({len(mine)} checks); waiting for the others", file=sys.stderr)
    owned_at = None
    rerun: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (owned_at is None or len(rerun) < len(mine)):
        if owned_at is None:
            owned = sum(n.scrape()[1].get("cluster_checks_owned", 0) for n in survivors)
            if owned == len(names):
                owned_at = time.time()
                print(
                    f"  survivors own every check after {owned_at - killed:.1f} s", file=sys.stderr
                )
        now = asyncio.run(last_runs(url, [c for c in mine if c not in rerun]))
        rerun.update({c: at for c, at in now.items() if at > before.get(c, 0.0)})
        time.sleep(0.5)
    # A check's schedule: one interval after its run before the kill (or the kill, if it had
    # not run yet). How late its first run on a survivor came against that:
    late = sorted(rerun[c] - max(before.get(c, killed) + interval, killed) for c in rerun)
    # How much of each interval its checks' runs covered: the interval less the widest gap
    # between their phases (a check's last run modulo the interval).
    phases = sorted(at % interval for at in before.values())
    gaps = [b - a for a, b in itertools.pairwise(phases)]
    gaps.append(interval - phases[-1] + phases[0] if phases else interval)
    raw = {"killed_at": killed, "owned_at": owned_at, "before": before, "rerun": rerun}
    return raw, {
        "killed": victim.name,
        "its_checks": len(mine),
        "first_due_after_kill_s": round(due - killed, 2),
        "takeover_s": round(owned_at - killed, 2) if owned_at else None,
        "all_rerun_s": round(max(rerun.values()) - killed, 2) if len(rerun) == len(mine) else None,
        "rerun_checks": len(rerun),
        "runs_span_s": round(interval - max(gaps), 2),
        "late_s": {
            "p50": round(late[len(late) // 2], 2) if late else None,
            "max": round(late[-1], 2) if late else None,
        },
    }


def measure(args: argparse.Namespace) -> dict:
    interval = args.interval.total_seconds()
    load = args.checks / interval
    workload = Workload(args.type, args.checks, args.interval, ping_count=args.ping_count)
    names = [f"{kinds}-{i:05d}" for i, kinds in enumerate(_kinds(args.type, args.checks))]
    warmup = args.warmup
    if warmup is None:  # as checks.py, for one node's share
        warmup = default_warmup(max(1, args.checks // args.nodes), args.interval)
    every = format_duration(args.interval)
    print(
        f"{args.nodes} nodes, {args.checks} {args.type} checks every {every}: {load:.0f}/s",
        file=sys.stderr,
    )
    # SIGTERM unwinds like Ctrl-C, so PostgreSQL (not our child: pg_ctl starts it) is stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    bindir = postgres.find_bindir()
    if bindir is None:
        raise SystemExit(postgres.INSTALL_HINT)
    pg = postgres.start(bindir)
    try:
        url = pg.create_database()
        pg_pid = postmaster_pid(pg)
        with Session(workload, snmp_agent=args.snmp_agent, keep=args.keep) as s:
            nodes: list[Node] = []
            try:
                loadavg_before = os.getloadavg()
                for i in range(1, args.nodes + 1):
                    nodes.append(Node(f"node-{i}", s, workload, url, args.failover))
                startup = max(n.daemon.wait_healthy(args.startup_timeout) for n in nodes)
                formed = wait_formed(nodes, args.checks, args.startup_timeout)
                print(
                    f"  healthy after {startup:.1f} s, formed {formed:.1f} s later; "
                    f"warming up {warmup:g} s",
                    file=sys.stderr,
                )
                watch_all(nodes, warmup, args.report_every, "warm-up")
                raws = [n.scrape()[1] for n in nodes]
                pg0, busy0 = cpu_seconds(pg_pid), machine_busy()
                side0 = s.targets.cpu_seconds() + (s.snmp.cpu_seconds() if s.snmp else 0.0)
                first = watch_all(nodes, args.seconds / 2, args.report_every, "first half")
                second = watch_all(nodes, args.seconds / 2, args.report_every, "second half")
                pg1, busy1 = cpu_seconds(pg_pid), machine_busy()
                side1 = s.targets.cpu_seconds() + (s.snmp.cpu_seconds() if s.snmp else 0.0)
                rss = [peak_rss_mb(n.daemon.pid) for n in nodes]
                loadavg_after = os.getloadavg()
                raw, fail = failover(
                    nodes, url, names, interval, interval + 2 * _secs(args.failover)
                )
                if args.keep:  # every check's run before the kill and first run after it
                    (s.workdir / "failover.json").write_text(json.dumps(raw))
            finally:
                for n in nodes:
                    n.daemon.stop()
    finally:
        pg.stop()
    start, mid, end = first[0], first[-1], second[-1]
    wall = end[0].at - start[0].at
    done = sum(b.done - a.done for a, b in zip(start, end, strict=True))
    esc_cpu = sum(b.cpu - a.cpu for a, b in zip(start, end, strict=True))
    pg_cpu = sum(pg1) - sum(pg0)
    side_cpu = side1 - side0
    measured = esc_cpu + pg_cpu + side_cpu
    halves = [
        sum(rate(a, b) for a, b in zip(start, mid, strict=True)),
        sum(rate(a, b) for a, b in zip(mid, end, strict=True)),
    ]
    per_node = []
    for i, n in enumerate(nodes):
        a, m, b = start[i], mid[i], end[i]
        per_node.append(
            {
                "node": n.name,
                "owned": int(raws[i].get("cluster_checks_owned", 0)),
                "completed_per_s": round(rate(a, b), 1),
                "skipped": b.skipped - a.skipped,
                "cpu_s_per_1000": round((b.cpu - a.cpu) * 1000 / max(1, b.done - a.done), 3),
                "cpu_pct_of_one_core": round(100 * (b.cpu - a.cpu) / wall, 1),
                "lateness_ms": {
                    "p50": round(b.p50 * 1000, 1),
                    "p99": round(b.p99 * 1000, 1),
                    "p99_at_middle": round(m.p99 * 1000, 1),
                    "max": round(max(x[i].max for x in first[1:] + second[1:]) * 1000, 1),
                },
                "peak_rss_mb": rss[i],
            }
        )
    why = []
    if min(halves) < 0.95 * load:
        why.append(f"a half completed under 95% of {load:.1f} checks/s")
    if skipped := sum(p["skipped"] for p in per_node):
        why.append(f"{skipped:.0f} runs skipped (the previous run was still going)")
    for i, p in enumerate(per_node):
        if end[i].p99 > max(2 * mid[i].p99, mid[i].p99 + 0.05):
            why.append(f"{p['node']}: lateness p99 grew from {mid[i].p99 * 1000:.0f} ms")
    return {
        "nodes": args.nodes,
        "type": args.type,
        "checks": args.checks,
        "interval_s": interval,
        "failover": args.failover,
        "load_per_s": round(load, 1),
        "warmup_s": warmup,
        "measured_s": round(wall, 1),
        "startup_s": round(startup, 2),
        "completed_per_s": round(done / wall, 1),
        "completed_per_s_halves": [round(h, 1) for h in halves],
        "keeps_up": not why,
        "why_not": why,
        "cpu_s_per_1000": round(esc_cpu * 1000 / max(1, done), 3),
        "escalatord_cpu_pct_of_one_core": round(100 * esc_cpu / wall, 1),
        "postgres_cpu_pct_of_one_core": round(100 * pg_cpu / wall, 1),
        "postgres_share_pct": round(100 * pg_cpu / max(1e-9, measured), 1),
        "targets_and_agent_cpu_pct_of_one_core": round(100 * side_cpu / wall, 1),
        "machine_busy_pct": round(100 * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]), 1),
        "per_node": per_node,
        "failover_figures": fail,
        "loadavg_before": [round(x, 2) for x in loadavg_before],
        "loadavg_after": [round(x, 2) for x in loadavg_after],
    }


def _kinds(mix: str, checks: int) -> list[str]:
    kinds = MIXES.get(mix, (mix,))
    return [kinds[i % len(kinds)] for i in range(checks)]


def _secs(duration: str) -> float:
    return parse_duration(duration).total_seconds()


def report(r: dict) -> str:
    lines = [
        "| node | owned | completed /s | CPU s / 1,000 | CPU % of a core "
        "| lateness p50 / p99 / max ms | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for p in r["per_node"]:
        late = p["lateness_ms"]
        lines.append(
            f"| {p['node']} | {p['owned']:,} | {p['completed_per_s']:g} "
            f"| {p['cpu_s_per_1000']:.3f} "
            f"| {p['cpu_pct_of_one_core']:g} | {late['p50']:g} / {late['p99']:g} / {late['max']:g} "
            f"| {p['peak_rss_mb']:g} |"
        )
    f = r["failover_figures"]
    lines += [
        "",
        f"total: {r['completed_per_s']:g} of {r['load_per_s']:g} checks/s, keeps up: "
        f"{'yes' if r['keeps_up'] else 'NO (' + '; '.join(r['why_not']) + ')'}",
        f"CPU s per 1,000 checks (all nodes): {r['cpu_s_per_1000']:.3f}; PostgreSQL "
        f"{r['postgres_cpu_pct_of_one_core']:g}% of a core = {r['postgres_share_pct']:g}% of the "
        f"benchmark's CPU; machine busy {r['machine_busy_pct']:g}%",
        f"failover ({f['killed']}, {f['its_checks']:,} checks, its first due "
        f"{f['first_due_after_kill_s']} s after the kill): survivors own all after "
        f"{f['takeover_s']} s; all re-run after {f['all_rerun_s']} s "
        f"({f['rerun_checks']:,} re-run; its runs spanned {f['runs_span_s']} s of each "
        f"interval); late against schedule p50 {f['late_s']['p50']} s, "
        f"max {f['late_s']['max']} s",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="N escalatord nodes on one throwaway PostgreSQL: throughput and failover.",
        epilog="See bench/README.md.",
    )
    parser.add_argument("--nodes", type=int, default=4, help="nodes (default 4)")
    parser.add_argument("--checks", type=int, default=25000, help="checks in all (default 25000)")
    parser.add_argument("--type", choices=(*MIXES, *KINDS), default="mixed")
    parser.add_argument("--interval", type=parse_duration, default="30s", help="default 30s")
    parser.add_argument("--seconds", type=float, default=120, help="measured window (default 120)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds (default: README)")
    parser.add_argument("--failover", default="30s", help="[cluster] failover (default 30s)")
    parser.add_argument("--snmp-agent", choices=("snmpd", "snmpsim"), default="snmpd")
    parser.add_argument("--ping-count", type=int, default=3, help="echo requests per ping run")
    parser.add_argument("--report-every", type=float, default=10, help="progress, seconds")
    parser.add_argument("--startup-timeout", type=float, default=180)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.nodes < 2 or args.checks < args.nodes or args.seconds <= 0:
        parser.error("--nodes must be >= 2, --checks >= --nodes and --seconds > 0")
    try:
        _secs(args.failover)
    except ValueError as exc:
        parser.error(f"--failover: {exc}")
    if os.geteuid() != 0:
        parser.error("run as root: ping checks need raw ICMP sockets, initdb runs as postgres")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        result = measure(args)
    except KeyboardInterrupt:
        print("interrupted: nodes, targets and PostgreSQL stopped", file=sys.stderr)
        return 130
    result["machine"] = machine()
    print(report(result))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main(sys.argv[1:]))
