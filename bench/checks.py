"""Check throughput of `escalatord run`, measured from outside the process.

    sudo .venv/bin/python bench/checks.py --checks 1000 --type mixed --interval 10s --seconds 60
    sudo .venv/bin/python bench/checks.py --checks 10000 --interval 60s --seconds 120 --json

Starts local targets (targets.py: ping to distinct 127.x.y.z addresses, one HTTP server with
a path per check, TCP listeners, an SNMP agent), writes a temporary config of N checks
(workload.py), runs the daemon as a process, warms up, and for --seconds reads /metrics and
/proc/<pid>: checks completed per second, whether it keeps up, CPU seconds per 1,000 checks,
scheduling lateness, peak RSS and start-up time. bench/README.md says how each is measured;
scenarios.py runs the named scenarios of issue 6 through `throughput()` here.

Root is needed for ping (raw ICMP); Linux only. Every target is a loopback address. Every wait
has a deadline; the daemon and targets are stopped at the end, on Ctrl-C or SIGTERM, and by
the kernel (PR_SET_PDEATHSIG) if the harness dies.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from daemon import peak_rss_mb, rate, watch
from session import Session, machine
from workload import KINDS, MIXES, Workload

from escalatord.api.app import LATENESS_WINDOW
from escalatord.core.durations import format_duration, parse_duration


def last_results(database: Path) -> dict[str, int]:
    """How many checks ended on each status, read from the daemon's SQLite file."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return dict(db.execute("SELECT last_status, count(*) FROM check_states GROUP BY 1"))


def default_warmup(checks: int, interval: timedelta) -> float:
    """The longest of 10 s, one interval (every check has run once and has its state row) and
    1.2 × the time for LATENESS_WINDOW runs (the lateness window then holds no start-up runs)."""
    seconds = interval.total_seconds()
    return round(max(10.0, seconds, 1.2 * LATENESS_WINDOW * seconds / checks))


def throughput(
    workload: Workload,
    seconds: float,
    *,
    warmup: float | None = None,
    report_every: float = 10,
    startup_timeout: float = 120,
    snmp_agent: str = "snmpd",
    uvloop: bool = False,
    keep: bool = False,
) -> dict:
    """Run the daemon under `workload` and measure it; the figures as a dict."""
    interval = workload.interval.total_seconds()
    load = workload.checks / interval
    if warmup is None:
        warmup = default_warmup(workload.checks, workload.interval)
    # Scrape at least twice per lateness window, so that the max seen covers every run.
    report_every = min(report_every, max(1.0, LATENESS_WINDOW / load / 2))
    every = format_duration(workload.interval)
    print(f"{workload.checks} {workload.mix} checks every {every}: {load:.0f}/s", file=sys.stderr)
    with Session(workload, snmp_agent=snmp_agent, keep=keep) as s:
        loadavg_before = os.getloadavg()
        daemon = s.start_daemon(uvloop=uvloop)
        startup = daemon.wait_healthy(startup_timeout)
        print(f"  healthy after {startup:.2f} s; warming up {warmup:g} s", file=sys.stderr)
        warm = watch(daemon, warmup, report_every, "warm-up")
        start = warm[-1]
        targets_cpu0 = s.targets.cpu_seconds()
        snmp_cpu0 = s.snmp.cpu_seconds() if s.snmp else 0.0
        first = watch(daemon, seconds / 2, report_every, "first half")
        second = watch(daemon, seconds / 2, report_every, "second half")
        mid, end = first[-1], second[-1]
        rss = peak_rss_mb(daemon.pid)
        targets_cpu = s.targets.cpu_seconds() - targets_cpu0
        snmp_cpu = (s.snmp.cpu_seconds() - snmp_cpu0) if s.snmp else None
        s.stop_daemon()
        last = last_results(s.database)
        targets_report = None
    targets_report = s.targets.report
    ms = 1000
    wall = end.at - start.at
    done = max(1, end.done - start.done)
    result = {
        "type": workload.mix,
        "checks": workload.checks,
        "interval_s": interval,
        "load_per_s": round(load, 1),
        "uvloop": uvloop,
        "warmup_s": warmup,
        "measured_s": round(wall, 1),
        "completed_per_s": round(rate(start, end), 1),
        "completed_per_s_halves": [round(rate(start, mid), 1), round(rate(mid, end), 1)],
        "skipped": end.skipped - start.skipped,
        "cpu_s_per_1000": round((end.cpu - start.cpu) * 1000 / done, 3),
        "cpu_pct_of_one_core": round(100 * (end.cpu - start.cpu) / wall, 1),
        "cpu_system_share": round((end.sys - start.sys) / max(1e-9, end.cpu - start.cpu), 2),
        "lateness_ms": {  # p50/p99 of the newest runs at the end; max over every scrape
            "p50": round(end.p50 * ms, 2),
            "p99": round(end.p99 * ms, 2),
            "max": round(max(x.max for x in first[1:] + second[1:]) * ms, 2),
            "p99_at_middle": round(mid.p99 * ms, 2),
            "max_in_warmup": round(max(x.max for x in warm) * ms, 2),
        },
        "peak_rss_mb": rss,
        # Overload (issue 17): the most overdue waiting run and the loop's lag at their worst
        # over the window, and failed probes the daemon blamed on itself.
        "behind_s_max": round(max(x.behind for x in first[1:] + second[1:]), 2),
        "loop_lag_s_max": round(max(x.loop_lag for x in first[1:] + second[1:]), 3),
        "blamed_on_overload": end.blamed - start.blamed,
        "startup_s": round(startup, 2),
        "loadavg_before": [round(x, 2) for x in loadavg_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "targets": targets_report,
        "targets_cpu_pct": round(100 * targets_cpu / wall, 1),
        "snmp_agent": s.snmp_kind if s.snmp else None,
        "snmp_agent_cpu_pct": round(100 * snmp_cpu / wall, 1) if snmp_cpu is not None else None,
        "last_status": last,
    }
    why = []
    if min(result["completed_per_s_halves"]) < 0.95 * load:
        why.append(f"a half completed under 95% of {load:.1f} checks/s")
    if result["skipped"]:
        why.append(f"{result['skipped']:.0f} runs skipped (still going, or the daemon behind)")
    if end.p99 > max(2 * mid.p99, mid.p99 + 0.05):
        why.append(f"lateness p99 grew from {mid.p99 * ms:.0f} to {end.p99 * ms:.0f} ms")
    result["keeps_up"], result["why_not"] = not why, why
    return result


HEADER = (
    "| type | checks | interval | load /s | measured s | completed /s | keeps up "
    "| CPU s / 1,000 checks | CPU % of a core | lateness p50 / p99 / max ms | peak RSS MB "
    "| start-up s | last result ok | load avg |\n"
    "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"
)


def table_row(r: dict) -> str:
    late = r["lateness_ms"]
    ok = r["last_status"].get("ok", 0)
    loads = f"{r['loadavg_before'][0]:.2f} → {r['loadavg_after'][0]:.2f}"
    return (
        f"| {r['type']} | {r['checks']:,} | {r['interval_s']:g}s | {r['load_per_s']:g} "
        f"| {r['measured_s']:g} | {r['completed_per_s']:g} | {'yes' if r['keeps_up'] else 'NO'} "
        f"| {r['cpu_s_per_1000']:.3f} | {r['cpu_pct_of_one_core']:g} "
        f"| {late['p50']:.1f} / {late['p99']:.1f} / {late['max']:.1f} | {r['peak_rss_mb']:g} "
        f"| {r['startup_s']:.2f} | {ok:,} / {r['checks']:,} | {loads} |"
    )


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options every throughput-style command shares (checks.py and scenarios.py)."""
    parser.add_argument("--snmp-agent", choices=("snmpd", "snmpsim"), default="snmpd")
    parser.add_argument("--ping-count", type=int, default=3, help="echo requests per ping run")
    parser.add_argument(
        "--probe-workers", type=int, default=0, help="[daemon] probe_workers (default 0)"
    )
    parser.add_argument("--uvloop", action="store_true", help="run the daemon on uvloop")
    parser.add_argument(
        "--http-option",
        action="append",
        default=[],
        help='a TOML line added to every http check, e.g. "follow_redirects = true"',
    )
    parser.add_argument("--report-every", type=float, default=10, help="progress, seconds")
    parser.add_argument("--startup-timeout", type=float, default=120)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Check throughput of `escalatord run`, measured from outside the process.",
        epilog="See bench/README.md.",
    )
    parser.add_argument("--checks", type=int, default=1000, help="number of checks (default 1000)")
    parser.add_argument("--type", choices=(*MIXES, *KINDS), default="mixed")
    parser.add_argument("--interval", type=parse_duration, default="10s", help='e.g. "60s"')
    parser.add_argument("--seconds", type=float, default=60, help="measured window, after warm-up")
    parser.add_argument(
        "--warmup", type=float, default=None, help="seconds before measuring (default: see README)"
    )
    add_common(parser)
    args = parser.parse_args(argv)
    if args.checks < 1 or args.seconds <= 0 or (args.warmup or 0) < 0:
        parser.error("--checks must be >= 1, --seconds > 0 and --warmup >= 0")
    if "ping" in MIXES.get(args.type, (args.type,)) and os.geteuid() != 0:
        parser.error("ping checks need raw ICMP sockets: run as root (or use --type http|tcp|snmp)")
    return args


def workload_from(
    args: argparse.Namespace, mix: str, checks: int, interval: timedelta, **extra: Any
) -> Workload:
    """The Workload the options shared by checks.py and scenarios.py (`add_common`) describe."""
    return Workload(
        mix,
        checks,
        interval,
        ping_count=args.ping_count,
        probe_workers=args.probe_workers,
        http_options=tuple(args.http_option),
        **extra,
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    workload = workload_from(args, args.type, args.checks, args.interval)
    try:
        result = throughput(
            workload,
            args.seconds,
            warmup=args.warmup,
            report_every=args.report_every,
            startup_timeout=args.startup_timeout,
            snmp_agent=args.snmp_agent,
            uvloop=args.uvloop,
            keep=args.keep,
        )
    except KeyboardInterrupt:
        print("interrupted: daemon and targets stopped", file=sys.stderr)
        return 130
    result["machine"] = machine()
    if not result["keeps_up"]:
        print("does NOT keep up: " + "; ".join(result["why_not"]), file=sys.stderr)
    print(HEADER)
    print(table_row(result))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
