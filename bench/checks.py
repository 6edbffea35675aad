"""Check throughput of `escalatord run`, measured from outside the process.

    sudo .venv/bin/python bench/checks.py --checks 1000 --type mixed --interval 10s --seconds 60
    sudo .venv/bin/python bench/checks.py --checks 10000 --interval 60s --seconds 120 --json

Starts local targets in a subprocess (ping: distinct 127.x.y.z addresses; http: one uvicorn
server, a path per check; tcp: listeners that accept and hang up), writes a temporary config
of N checks, runs the daemon as a process, warms up, and for --seconds reads /metrics and
/proc/<pid>: checks completed per second, whether it keeps up, CPU seconds per 1,000 checks,
scheduling lateness, peak RSS and start-up time. bench/README.md says how each is measured.

Root is needed for ping (raw ICMP); Linux only. Every target is a loopback address. Every wait
has a deadline; the daemon and targets are stopped at the end, on Ctrl-C or SIGTERM, and by
the kernel (PR_SET_PDEATHSIG) if the harness dies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from escalatord.api.app import LATENESS_WINDOW
from escalatord.config.types import format_duration, parse_duration

TCP_LISTENERS = 4
TYPES = ("ping", "http", "tcp")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- targets: a subprocess, `checks.py --serve-targets HTTP_FD TCP_FD...` -------------------


def serve_targets(http_fd: int, tcp_fds: list[int]) -> None:
    """Answer HTTP 200 "ok" on every path and accept-and-close TCP until stdin closes."""
    import uvicorn

    counts: Counter[str] = Counter()

    async def http_app(scope, receive, send) -> None:  # bare ASGI: no routing cost
        if scope["type"] != "http":
            return
        counts["http_requests"] += 1
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    async def tcp_client(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counts["tcp_connections"] += 1
        writer.close()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for fd in tcp_fds:
            await asyncio.start_server(tcp_client, sock=socket.socket(fileno=fd))
        # Keep-alive as long as nginx's default, so the daemon's pool is not cut every 5 s.
        config = uvicorn.Config(
            http_app, lifespan="off", access_log=False, log_level="warning", timeout_keep_alive=75
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[socket.socket(fileno=http_fd)]))
        await loop.run_in_executor(None, sys.stdin.buffer.read)  # EOF: the harness is done
        server.should_exit = True
        await asyncio.wait_for(serving, 10)

    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
    cpu = os.times()
    print(json.dumps({**counts, "cpu_s": round(cpu.user + cpu.system, 2)}), flush=True)


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel sends it SIGTERM when the harness dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Targets:
    """The targets subprocess. Sockets are bound here, so they accept before it is up."""

    def __init__(self) -> None:
        socks = []
        for _ in range(1 + TCP_LISTENERS):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(1024)
            sock.set_inheritable(True)
            socks.append(sock)
        ports = [s.getsockname()[1] for s in socks]
        self.http_port, self.tcp_ports = ports[0], ports[1:]
        fds = [s.fileno() for s in socks]
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-targets", *map(str, fds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            pass_fds=fds,
            preexec_fn=_die_with_parent,
            start_new_session=True,  # Ctrl-C reaches the harness only; it stops the children
        )
        for sock in socks:  # the child has its copies
            sock.close()
        self.report: dict[str, float] = {}

    def stop(self) -> None:
        """Close its stdin (it stops and prints its counts); kill it if it does not."""
        try:
            out, _ = self.proc.communicate(timeout=15)
            self.report = json.loads(out.decode().strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError):
            self.proc.kill()
            self.proc.wait(5)


# --- the config -----------------------------------------------------------------------------


def loopback_addresses():
    """127.1.0.1, 127.1.0.2, ...: distinct addresses, skipping .0 and .255 host parts."""
    i = 1 << 16
    while True:
        b, c, d = (i >> 16) & 255, (i >> 8) & 255, i & 255
        if d not in (0, 255):
            yield f"127.{b}.{c}.{d}"
        i += 1


def config_text(args: argparse.Namespace, targets: Targets, workdir: Path, port: int) -> str:
    kinds = TYPES if args.type == "mixed" else (args.type,)
    addresses = loopback_addresses()
    lines = [
        "[daemon]",
        f'database = "sqlite:///{workdir}/escalatord.db"',
        f'listen = "127.0.0.1:{port}"',
        f"icmp_privileged = {'true' if 'ping' in kinds else 'false'}",
        "",
        "[defaults]",
        f'interval = "{format_duration(args.interval)}"',
        'timeout = "10s"',
    ]
    for i in range(args.checks):
        kind = kinds[i % len(kinds)]
        lines += ["", "[[check]]", f'name = "{kind}-{i:05d}"', f'type = "{kind}"']
        if kind == "ping":
            lines += [f'host = "{next(addresses)}"', f"count = {args.ping_count}"]
        elif kind == "http":
            lines.append(f'url = "http://127.0.0.1:{targets.http_port}/c/{i}"')
        else:
            port_ = targets.tcp_ports[i % len(targets.tcp_ports)]
            lines += ['host = "127.0.0.1"', f"port = {port_}"]
    return "\n".join(lines) + "\n"


# --- measuring from outside -----------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """One scrape of /metrics plus the CPU time used so far, at time.monotonic() `at`."""

    at: float
    cpu: float  # user + system
    sys: float  # system (kernel) part of cpu
    done: float
    skipped: float
    p50: float  # lateness, seconds, over the daemon's newest runs
    p99: float
    max: float

    @classmethod
    def parse(cls, at: float, cpu: tuple[float, float], text: str) -> Snapshot:
        m = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                m[name.removeprefix("escalatord_")] = float(value)
        late = "scheduler_lateness_seconds{quantile=%s}"
        return cls(
            at,
            sum(cpu),
            cpu[1],
            m["checks_completed_total"],
            m["scheduler_skipped_total"],
            m[late % '"0.5"'],
            m[late % '"0.99"'],
            m["scheduler_lateness_max_seconds"],
        )


def proc_stat(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (which may hold spaces)."""
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rpartition(")")[2].split()


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of `pid` and its reaped children and live descendants."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError):
                parents[int(entry)] = int(proc_stat(int(entry))[1])
    family, queue = [], [pid]
    while queue:
        family.append(current := queue.pop())
        queue += [child for child, parent in parents.items() if parent == current]
    user = system = 0
    for member in family:
        with contextlib.suppress(OSError, IndexError):
            f = [int(x) for x in proc_stat(member)[11:15]]  # utime stime cutime cstime
            user += f[0] + (f[2] if member == pid else 0)
            system += f[1] + (f[3] if member == pid else 0)
    return user / CLK_TCK, system / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        kb = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    return round(kb / 1024, 1)


class Daemon:
    """`escalatord run` as a process, with its log in a file."""

    def __init__(self, config: Path, port: int, log: Path):
        self.log = log
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        with open(log, "wb") as out:
            self.started = time.monotonic()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "escalatord", "run", "--config", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
                start_new_session=True,
            )

    def alive(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the daemon exited with {self.proc.returncode}:\n{tail}")

    def wait_healthy(self, timeout: float) -> float:
        """Seconds from process start to the first /healthz 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            with contextlib.suppress(httpx.HTTPError):
                if self.client.get("/healthz", timeout=1).status_code == 200:
                    return time.monotonic() - self.started
            time.sleep(0.01)
        raise RuntimeError(f"/healthz did not answer 200 within {timeout:.0f} s; see {self.log}")

    def snapshot(self) -> Snapshot:
        self.alive()
        cpu = cpu_seconds(self.proc.pid)
        return Snapshot.parse(time.monotonic(), cpu, self.client.get("/metrics").text)

    def stop(self, timeout: float = 30) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"the daemon ignored SIGTERM for {timeout} s: killed", file=sys.stderr)
                self.proc.kill()
                self.proc.wait(5)


def rate(a: Snapshot, b: Snapshot) -> float:
    return (b.done - a.done) / (b.at - a.at)


def watch(daemon: Daemon, seconds: float, args: argparse.Namespace, label: str) -> list:
    """Scrape every --report-every s for `seconds`, printing progress; all the snapshots."""
    end = time.monotonic() + seconds
    seen = [daemon.snapshot()]
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(args.report_every, left))
        seen.append(now := daemon.snapshot())
        print(
            f"  {label}: {rate(seen[-2], now):6.1f} checks/s, lateness p99 "
            f"{now.p99 * 1000:.1f} ms, max {now.max * 1000:.1f} ms, skipped {now.skipped:.0f}",
            file=sys.stderr,
        )
    return seen


def last_results(database: Path) -> dict[str, int]:
    """How many checks ended on each status, read from the daemon's SQLite file."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return dict(db.execute("SELECT last_status, count(*) FROM check_states GROUP BY 1"))


# --- one run --------------------------------------------------------------------------------


def measure(args: argparse.Namespace, workdir: Path) -> dict:
    load = args.checks / args.interval.total_seconds()
    every = format_duration(args.interval)
    print(f"{args.checks} {args.type} checks every {every}: {load:.0f}/s", file=sys.stderr)
    targets = Targets()
    daemon = None
    try:
        with socket.socket() as probe:  # a free port for the daemon's API
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = workdir / "escalatord.toml"
        config.write_text(config_text(args, targets, workdir, port))
        loadavg_before = os.getloadavg()
        daemon = Daemon(config, port, workdir / "daemon.log")
        startup = daemon.wait_healthy(args.startup_timeout)
        print(f"  healthy after {startup:.2f} s; warming up {args.warmup:g} s", file=sys.stderr)
        warmup = watch(daemon, args.warmup, args, "warm-up")
        start = warmup[-1]
        first = watch(daemon, args.seconds / 2, args, "first half")
        second = watch(daemon, args.seconds / 2, args, "second half")
        mid, end = first[-1], second[-1]
        rss = peak_rss_mb(daemon.proc.pid)
    finally:
        try:
            if daemon is not None:
                daemon.stop()
        finally:
            targets.stop()
    ms = 1000
    result = {
        "type": args.type,
        "checks": args.checks,
        "interval_s": args.interval.total_seconds(),
        "load_per_s": round(load, 1),
        "warmup_s": args.warmup,
        "measured_s": round(end.at - start.at, 1),
        "completed_per_s": round(rate(start, end), 1),
        "completed_per_s_halves": [round(rate(start, mid), 1), round(rate(mid, end), 1)],
        "skipped": end.skipped - start.skipped,
        "cpu_s_per_1000": round((end.cpu - start.cpu) * 1000 / max(1, end.done - start.done), 3),
        "cpu_pct_of_one_core": round(100 * (end.cpu - start.cpu) / (end.at - start.at), 1),
        "cpu_system_share": round((end.sys - start.sys) / max(1e-9, end.cpu - start.cpu), 2),
        "lateness_ms": {  # p50/p99 of the newest runs at the end; max over every scrape
            "p50": round(end.p50 * ms, 2),
            "p99": round(end.p99 * ms, 2),
            "max": round(max(s.max for s in first[1:] + second[1:]) * ms, 2),
            "p99_at_middle": round(mid.p99 * ms, 2),
            "max_in_warmup": round(max(s.max for s in warmup) * ms, 2),
        },
        "peak_rss_mb": rss,
        "startup_s": round(startup, 2),
        "loadavg_before": [round(x, 2) for x in loadavg_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "targets": targets.report,
        "last_status": last_results(workdir / "escalatord.db"),
    }
    why = []
    if min(result["completed_per_s_halves"]) < 0.95 * load:
        why.append(f"a half completed under 95% of {load:.1f} checks/s")
    if result["skipped"]:
        why.append(f"{result['skipped']:.0f} runs skipped (the previous run was still going)")
    if end.p99 > max(2 * mid.p99, mid.p99 + 0.05):
        why.append(f"lateness p99 grew from {mid.p99 * ms:.0f} to {end.p99 * ms:.0f} ms")
    result["keeps_up"], result["why_not"] = not why, why
    return result


HEADER = (
    "| type | checks | interval | load /s | measured s | completed /s | keeps up "
    "| CPU s / 1,000 checks | CPU % of a core | lateness p50 / p99 / max ms | peak RSS MB "
    "| start-up s | last result ok |\n"
    "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"
)


def table_row(r: dict) -> str:
    late = r["lateness_ms"]
    ok = r["last_status"].get("ok", 0)
    return (
        f"| {r['type']} | {r['checks']:,} | {r['interval_s']:g}s | {r['load_per_s']:g} "
        f"| {r['measured_s']:g} | {r['completed_per_s']:g} | {'yes' if r['keeps_up'] else 'NO'} "
        f"| {r['cpu_s_per_1000']:.3f} | {r['cpu_pct_of_one_core']:g} "
        f"| {late['p50']:.1f} / {late['p99']:.1f} / {late['max']:.1f} | {r['peak_rss_mb']:g} "
        f"| {r['startup_s']:.2f} | {ok:,} / {r['checks']:,} |"
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Check throughput of `escalatord run`, measured from outside the process.",
        epilog="See bench/README.md.",
    )
    parser.add_argument("--checks", type=int, default=1000, help="number of checks (default 1000)")
    parser.add_argument("--type", choices=("mixed", *TYPES), default="mixed")
    parser.add_argument("--interval", type=parse_duration, default="10s", help='e.g. "60s"')
    parser.add_argument("--seconds", type=float, default=60, help="measured window, after warm-up")
    parser.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="seconds before measuring; default: the longest of 10 s, one interval (every "
        "check has run and has its state row) and 1.2 times what the daemon takes for "
        f"{LATENESS_WINDOW:,} runs (its lateness window then holds no start-up runs)",
    )
    parser.add_argument("--ping-count", type=int, default=3, help="echo requests per ping run")
    parser.add_argument("--report-every", type=float, default=10, help="progress, seconds")
    parser.add_argument("--startup-timeout", type=float, default=120)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.checks < 1 or args.seconds <= 0 or (args.warmup or 0) < 0:
        parser.error("--checks must be >= 1, --seconds > 0 and --warmup >= 0")
    if args.warmup is None:
        interval = args.interval.total_seconds()
        args.warmup = round(max(10.0, interval, 1.2 * LATENESS_WINDOW * interval / args.checks))
    # Scrape at least twice per lateness window, so that the max seen covers every run.
    window_s = LATENESS_WINDOW * args.interval.total_seconds() / args.checks
    args.report_every = min(args.report_every, max(1.0, window_s / 2))
    if args.type in ("mixed", "ping") and os.geteuid() != 0:
        parser.error("ping checks need raw ICMP sockets: run as root (or use --type http|tcp)")
    return args


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve-targets"]:
        fds = [int(x) for x in argv[1:]]
        serve_targets(fds[0], fds[1:])
        return 0
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, through the `finally` that stops the daemon and targets.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    workdir = Path(tempfile.mkdtemp(prefix="escalatord-bench-"))
    try:
        result = measure(args, workdir)
    except KeyboardInterrupt:
        print("interrupted: daemon and targets stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    result["machine"] = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    if not result["keeps_up"]:
        print("does NOT keep up: " + "; ".join(result["why_not"]), file=sys.stderr)
    print(HEADER)
    print(table_row(result))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
