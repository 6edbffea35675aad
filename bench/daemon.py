"""`escalatord run` as a process, measured from outside: /proc for CPU and memory, /metrics
for completed runs and scheduling lateness, its log file for "started" / "reloaded"."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from targets import die_with_parent

CLK_TCK = os.sysconf("SC_CLK_TCK")
# Runs the daemon's CLI on uvloop's event loop instead of asyncio's (an experiment: --uvloop).
UVLOOP_MAIN = (
    "import sys, uvloop; uvloop.install(); from escalatord.cli import main; "
    "sys.argv[0] = 'escalatord'; sys.exit(main())"
)


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
    sent: float  # notifications delivered
    # Overload (issue 17): how overdue the oldest waiting run is, the loop's largest lateness
    # lately, and failed probes blamed on the daemon (0 from a daemon without these metrics).
    behind: float = 0.0
    loop_lag: float = 0.0
    blamed: float = 0.0

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
            m.get("notifications_sent_total", 0.0),
            m.get("scheduler_behind_seconds", 0.0),
            m.get("loop_lag_max_seconds", 0.0),
            m.get("checks_overloaded_total", 0.0),
        )


def rate(a: Snapshot, b: Snapshot) -> float:
    return (b.done - a.done) / (b.at - a.at)


def proc_stat(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (which may hold spaces)."""
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rpartition(")")[2].split()


def family(pid: int) -> list[int]:
    """`pid` and its live descendants (probe workers, plugins)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError):
                parents[int(entry)] = int(proc_stat(int(entry))[1])
    members, queue = [], [pid]
    while queue:
        members.append(current := queue.pop())
        queue += [child for child, parent in parents.items() if parent == current]
    return members


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of `pid` and its reaped children and live descendants."""
    user = system = 0
    for member in family(pid):
        with contextlib.suppress(OSError, IndexError):
            f = [int(x) for x in proc_stat(member)[11:15]]  # utime stime cutime cstime
            user += f[0] + (f[2] if member == pid else 0)
            system += f[1] + (f[3] if member == pid else 0)
    return user / CLK_TCK, system / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    """Peak RSS (VmHWM) of `pid` plus that of each live descendant (probe workers): an upper
    bound of the tree's peak, since the members need not peak at the same moment."""
    kb = 0
    for member in family(pid):
        with contextlib.suppress(OSError, StopIteration), open(f"/proc/{member}/status") as fh:
            kb += next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    return round(kb / 1024, 1)


class Daemon:
    """`escalatord run --config CONFIG` as a process, with its log in a file."""

    def __init__(
        self, config: Path, port: int, log: Path, *, uvloop: bool = False, pycache: str = ""
    ):
        self.log = log
        env = dict(os.environ)
        if pycache:  # compiled bytecode kept there (outside the tree), as an installed package has
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = pycache
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        if uvloop:
            argv = [sys.executable, "-c", UVLOOP_MAIN, "run", "--config", str(config)]
        else:
            argv = [sys.executable, "-m", "escalatord", "run", "--config", str(config)]
        with open(log, "wb") as out:
            self.started = time.monotonic()
            self.proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
                start_new_session=True,
                env=env,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

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

    def log_events(self) -> list[dict]:
        """The daemon's JSON log lines (structlog writes JSON when not on a TTY)."""
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                doc = json.loads(line)
                if isinstance(doc, dict):
                    out.append(doc)
        return out

    def wait_log(self, event: str, after: int, timeout: float) -> dict:
        """The first log line with `event` beyond the first `after` lines; waits up to timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            seen = [e for e in self.log_events()[after:] if e.get("event") == event]
            if seen:
                return seen[0]
            time.sleep(0.005)
        raise RuntimeError(f"no {event!r} in the daemon's log within {timeout:.0f} s")

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


def watch(daemon: Daemon, seconds: float, every: float, label: str) -> list[Snapshot]:
    """Scrape every `every` s for `seconds`, printing progress; all the snapshots."""
    end = time.monotonic() + seconds
    seen = [daemon.snapshot()]
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(every, left))
        seen.append(now := daemon.snapshot())
        print(
            f"  {label}: {rate(seen[-2], now):6.1f} checks/s, lateness p99 "
            f"{now.p99 * 1000:.1f} ms, max {now.max * 1000:.1f} ms, skipped {now.skipped:.0f}",
            file=sys.stderr,
        )
    return seen
