"""Issue 6's benchmark scenarios, one command each (run as root, from the repository root):

    .venv/bin/python bench/scenarios.py ping10k      # 10,000 ping checks, 60 s interval
    .venv/bin/python bench/scenarios.py mixed10k     # 10,000 mixed (ping/http/snmp), 60 s
    .venv/bin/python bench/scenarios.py ramp         # raise the mixed rate until it falls behind
    .venv/bin/python bench/scenarios.py overload     # one node from its ceiling to twice it
    .venv/bin/python bench/scenarios.py storm        # 100 incidents at once: page latency
    .venv/bin/python bench/scenarios.py pages        # incidents all along under load: page latency
    .venv/bin/python bench/scenarios.py startup      # start-up with 10,000 checks
    .venv/bin/python bench/scenarios.py reload       # SIGHUP with 10,000 checks; missed runs
    .venv/bin/python bench/scenarios.py baseline     # bare libraries vs the daemon, same rate

Each prints a short markdown table and, with --json, one JSON line per run with the machine
(nproc, CPU, RAM, kernel, Python, date, load average). bench/README.md explains the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import timedelta

from baseline import baseline
from checks import HEADER, add_common, table_row, throughput, workload_from
from lifecycle import reload, startup
from pages import steady_pages, storm
from session import machine
from workload import KINDS, MIXES

from escalatord.core.durations import parse_duration


def _emit(result: dict, args: argparse.Namespace, row: str | None = None) -> None:
    result["machine"] = machine()
    if row:
        print(row)
    if args.json or not row:
        print(json.dumps(result), flush=True)


def _throughput(args: argparse.Namespace, mix: str, checks: int, interval: timedelta) -> dict:
    w = workload_from(args, mix, checks, interval)
    return throughput(
        w,
        args.seconds,
        warmup=args.warmup,
        report_every=args.report_every,
        startup_timeout=args.startup_timeout,
        snmp_agent=args.snmp_agent,
        uvloop=args.uvloop,
    )


def run_fixed(args: argparse.Namespace) -> None:
    mix = "ping" if args.scenario == "ping10k" else args.mix
    result = _throughput(args, mix, args.checks, args.interval)
    print(HEADER)
    _emit(result, args, table_row(result))


def run_ramp(args: argparse.Namespace) -> None:
    """Each step is a fresh daemon at checks = rate × interval; stop after the first step
    that does not keep up. The highest rate that kept up is this machine's ceiling."""
    print(HEADER)
    best = None
    rate = args.start
    while rate <= args.stop:
        checks = int(rate * args.interval.total_seconds())
        result = _throughput(args, args.mix, checks, args.interval)
        _emit(result, args, table_row(result))
        if not result["keeps_up"]:
            break
        best = result
        rate = round(rate * args.factor)
    summary = {
        "scenario": "ramp",
        "mix": args.mix,
        "highest_rate_kept_up": best["load_per_s"] if best else None,
        "cpu_s_per_1000_there": best["cpu_s_per_1000"] if best else None,
    }
    _emit(summary, args)


OVERLOAD_HEADER = (
    "| load /s | × ceiling | completed /s | % of ceiling | peak RSS MB "
    "| lateness p50 / p99 / max s | skipped | behind max s | loop lag max s "
    "| blamed on overload | last result not ok |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def run_overload(args: argparse.Namespace) -> None:
    """Issue 17: one node past its ceiling must saturate, not collapse. Each step is a fresh
    daemon at `--steps` × the ceiling (`--ceiling`, checks/s: the `ramp`'s highest rate kept
    up on this machine); what counts is completed/s ≥ 90% of the ceiling at 2×, bounded RSS,
    lateness and skipped runs reported, and no healthy check reported failing."""
    ceiling = args.ceiling
    print(OVERLOAD_HEADER)
    for factor in args.steps:
        rate = ceiling * factor
        checks = int(rate * args.interval.total_seconds())
        r = _throughput(args, args.mix, checks, args.interval)
        late = r["lateness_ms"]
        bad = sum(n for status, n in r["last_status"].items() if status != "ok")
        r.update(scenario="overload", ceiling_per_s=ceiling, factor=factor,
                 pct_of_ceiling=round(100 * r["completed_per_s"] / ceiling, 1))  # fmt: skip
        row = (
            f"| {r['load_per_s']:g} | {factor:g} | {r['completed_per_s']:g} "
            f"| {r['pct_of_ceiling']:g} | {r['peak_rss_mb']:g} "
            f"| {late['p50'] / 1000:.2f} / {late['p99'] / 1000:.2f} / {late['max'] / 1000:.2f} "
            f"| {r['skipped']:.0f} | {r['behind_s_max']:g} | {r['loop_lag_s_max']:g} "
            f"| {r['blamed_on_overload']:.0f} | {bad} |"
        )
        _emit(r, args, row)


def run_storm(args: argparse.Namespace) -> None:
    r = storm(
        args.incidents,
        background=args.background,
        interval=args.interval,
        mix=args.mix,
        uvloop=args.uvloop,
        snmp_agent=args.snmp_agent,
        keep=args.keep,
    )
    print(
        "| incidents | background checks | p50 / p99 / max ms | opened within s | all paged ≤ 2 s |"
    )
    print("|---:|---:|---:|---:|---|")
    row = (
        f"| {r['incidents']} / {r['incidents_wanted']} | {r['background_checks']:,} "
        f"| {r.get('p50_ms')} / {r.get('p99_ms')} / {r.get('max_ms')} | {r['opened_within_s']} "
        f"| {'yes' if r.get('max_ms', 1e9) <= 2000 else 'NO'} |"
    )
    _emit(r, args, row)


def run_pages(args: argparse.Namespace) -> None:
    r = steady_pages(
        paging=args.paging,
        background=args.background,
        interval=args.interval,
        mix=args.mix,
        seconds=args.seconds,
        per_second=args.per_second,
        uvloop=args.uvloop,
        snmp_agent=args.snmp_agent,
        keep=args.keep,
    )
    print("| incidents | checks /s | p50 / p99 / max ms | lateness p99 ms |")
    print("|---:|---:|---:|---:|")
    row = (
        f"| {r['incidents']} | {r['checks_per_s']} | {r.get('p50_ms')} / {r.get('p99_ms')} "
        f"/ {r.get('max_ms')} | {r['lateness_p99_ms_end']} |"
    )
    _emit(r, args, row)


def run_startup(args: argparse.Namespace) -> None:
    w = workload_from(args, args.mix, args.checks, args.interval)
    _emit(
        startup(
            w,
            repeat=args.repeat,
            uvloop=args.uvloop,
            pycache=args.pycache,
            existing_db=args.existing_db,
        ),
        args,
    )


def run_reload(args: argparse.Namespace) -> None:
    w = workload_from(args, args.mix, args.checks, args.interval, paging=True)
    _emit(reload(w, uvloop=args.uvloop, pycache=args.pycache), args)


def run_baseline(args: argparse.Namespace) -> None:
    bare = baseline(
        args.mix,
        args.rate,
        args.seconds,
        snmp_agent=args.snmp_agent,
        ping_lib=args.ping_lib,
        http_lib=args.http_lib,
        snmp_lib=args.snmp_lib,
    )
    _emit(bare, args)
    if args.no_daemon:
        return
    checks = int(args.rate * args.interval.total_seconds())
    daemon = _throughput(args, args.mix, checks, args.interval)
    print(HEADER)
    _emit(daemon, args, table_row(daemon))
    ratio = daemon["cpu_s_per_1000"] / bare["cpu_s_per_1000"]
    _emit(
        {
            "scenario": "baseline",
            "mix": args.mix,
            "rate": args.rate,
            "bare_cpu_s_per_1000": bare["cpu_s_per_1000"],
            "daemon_cpu_s_per_1000": daemon["cpu_s_per_1000"],
            "daemon_overhead_pct": round(100 * (ratio - 1), 1),
        },
        args,
    )


DEFAULTS = {  # scenario: (checks, interval, seconds)
    "ping10k": (10_000, "60s", 120),
    "mixed10k": (10_000, "60s", 120),
    "ramp": (0, "10s", 40),
    "overload": (0, "10s", 60),
    "storm": (0, "1s", 0),
    "pages": (0, "10s", 120),
    "startup": (10_000, "60s", 0),
    "reload": (10_000, "60s", 0),
    "baseline": (0, "10s", 60),
}
RUN = {
    "ping10k": run_fixed,
    "mixed10k": run_fixed,
    "ramp": run_ramp,
    "overload": run_overload,
    "storm": run_storm,
    "pages": run_pages,
    "startup": run_startup,
    "reload": run_reload,
    "baseline": run_baseline,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog="bench/README.md")
    parser.add_argument("scenario", choices=list(RUN))
    parser.add_argument("--mix", choices=(*MIXES, *KINDS), default="mixed")
    parser.add_argument("--checks", type=int, help="number of checks (ping10k, mixed10k, …)")
    parser.add_argument("--interval", type=parse_duration, help="check interval")
    parser.add_argument("--seconds", type=float, help="measured window")
    parser.add_argument("--warmup", type=float, default=None)
    ramp = parser.add_argument_group("ramp")
    ramp.add_argument("--start", type=float, default=200, help="first rate, checks/s")
    ramp.add_argument("--factor", type=float, default=1.4, help="each step's rate ×")
    ramp.add_argument("--stop", type=float, default=3000, help="highest rate tried")
    over = parser.add_argument_group("overload")
    over.add_argument(
        "--ceiling", type=float, default=4000, help="checks/s one node keeps up with (ramp's)"
    )
    over.add_argument(
        "--steps",
        type=lambda text: [float(x) for x in text.split(",")],
        default=[1.0, 1.5, 2.0],
        help="loads as multiples of the ceiling, e.g. 1,1.5,2",
    )
    paging = parser.add_argument_group("storm and pages")
    paging.add_argument("--incidents", type=int, default=100, help="storm: at once")
    paging.add_argument("--paging", type=int, default=200, help="pages: paging checks")
    paging.add_argument("--background", type=int, default=None, help="other checks")
    paging.add_argument("--per-second", type=float, default=1.0, help="pages: failures /s")
    other = parser.add_argument_group("startup and baseline")
    other.add_argument("--repeat", type=int, default=3, help="startup: runs")
    other.add_argument(
        "--existing-db",
        action="store_true",
        help="startup: restart on the database the previous start left (default: a new one)",
    )
    other.add_argument(
        "--pycache",
        default="",
        help="startup/reload: let the daemon keep compiled bytecode in this directory "
        "(PYTHONPYCACHEPREFIX), as an installed package has; this environment sets "
        "PYTHONDONTWRITEBYTECODE=1, which makes every start compile every module",
    )
    other.add_argument("--rate", type=float, default=167, help="baseline: probes/s")
    other.add_argument("--ping-lib", choices=("pinger", "icmplib"), default="pinger")
    other.add_argument("--http-lib", choices=("httpx", "escalatord"), default="httpx")
    other.add_argument("--snmp-lib", choices=("pysnmp", "raw"), default="pysnmp")
    other.add_argument("--no-daemon", action="store_true", help="baseline: bare loop only")
    add_common(parser)
    args = parser.parse_args(argv)
    checks, interval, seconds = DEFAULTS[args.scenario]
    args.checks = args.checks or checks
    args.interval = args.interval or parse_duration(interval)
    args.seconds = args.seconds or seconds
    if args.background is None:
        # pages: 200 + 1,470 checks every 10 s = 167/s, mixed10k's rate.
        args.background = 0 if args.scenario == "storm" else 1470
    if args.scenario == "storm" and args.mix == "mixed":
        args.mix = "http"  # the storm's own default: its 100 http checks every second
    if os.geteuid() != 0:
        parser.error("run as root: ping checks need raw ICMP sockets")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        RUN[args.scenario](args)
    except KeyboardInterrupt:
        print("interrupted: daemon and targets stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
