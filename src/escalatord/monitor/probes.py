"""Probe worker processes, so one daemon uses every core (`[daemon] probe_workers`).

One asyncio process runs its probes on one core, so it tops out well below what a machine
with more cores can probe (bench/RESULTS.md, "Issue 6: where the targets stand"). With
`probe_workers = N` the daemon starts N worker processes (`monitor/probe_worker.py`) and the
monitor sends every active check's run to one of them; everything else (state machine,
incidents, the store, the API, passive checks, traps) stays in the daemon's process.

- Assignment is stable: a check always runs in worker `crc32(name) % N`, so what it
  remembers between runs stays in one process. The daemon's own check object learns what it
  needs from each remote result through `Check.absorb()` (an snmp_interface check's ifIndex,
  which the trap receiver reads).
- Workers start with `loop.subprocess_exec` (fork + exec at once: no forked copy of a process
  with threads and a running loop) and get the checks in a `configure` message at start, at
  every reload and after a restart.
- A worker that exits fails its probes in flight, and every run of its checks until it is
  back, as unknown "probe worker exited (…); the check runs again on schedule". It is
  started again after 1 s, 2 s, 4 s … at most 30 s (back to 1 s after a minute of running).
  Each remote probe is also bounded by the check's timeout + PROBE_MARGIN: nothing hangs.
- `close()` (shutdown, after the scheduler drained the probes in flight) closes the workers'
  stdin and waits for them to exit; they are killed after the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
import time
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog

from escalatord.checks.base import Check, CheckConfig
from escalatord.core.durations import format_duration
from escalatord.core.status import Result
from escalatord.monitor.probe_worker import FrameDecoder, FrameError, FrameWriter, unpack
from escalatord.monitor.worker_exits import backoff, down, exit_text
from escalatord.monitor.worker_log import relay

if TYPE_CHECKING:
    from escalatord.checks.ping.icmp_mode import IcmpMode

log = structlog.get_logger("escalatord.probes")

PROBE_MARGIN = 5.0  # seconds a remote probe may take beyond its timeout (queueing, start-up)
SWEEP_EVERY = 0.5  # seconds between looks for remote probes past that
STEADY_AFTER = 60.0  # seconds of running after which a worker's backoff starts again at 1 s
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def worker_of(name: str, workers: int) -> int:
    """The worker that runs check `name` (stable across restarts and reloads)."""
    return zlib.crc32(name.encode()) % workers


class _Worker:
    """One worker process: its pipes, its probes in flight, its restarts."""

    def __init__(self, pool: ProbePool, index: int):
        self.pool = pool
        self.index = index
        self.transport: asyncio.SubprocessTransport | None = None
        self.pid: int | None = None
        self.ready = False  # running and taking probes
        # seq -> (future, loop time it must be answered by, the check's timeout as text)
        self.pending: dict[int, tuple[asyncio.Future[Result], float, str]] = {}
        self.restarts = 0
        self.probes = 0  # results received, over all incarnations
        self.last_exit: int | None = None
        self.exited = asyncio.Event()
        self._out = FrameWriter(lambda: None)  # frames to this incarnation's stdin
        self._decoder = FrameDecoder()
        self._stderr = bytearray()
        self.supervisor: asyncio.Task[None] | None = None

    # ---- life ------------------------------------------------------------------------------

    async def spawn(self) -> None:
        loop = asyncio.get_running_loop()
        self.exited = asyncio.Event()
        self._decoder, self._stderr = FrameDecoder(), bytearray()
        transport, _ = await loop.subprocess_exec(
            lambda: _Pipes(self),
            sys.executable,
            "-m",
            "escalatord.monitor.probe_worker",
            "--index",
            str(self.index),
            "--parent",
            str(os.getpid()),
            "--log-level",
            self.pool.log_level,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self.transport, self.pid, self.ready = transport, transport.get_pid(), True
        # A new writer: frames still queued for a dead incarnation must not reach this one.
        self._out = FrameWriter(lambda: transport.get_pipe_transport(0))
        self.send(("configure", self.pool.icmp_mode, self.pool.share(self.index)))
        log.info("probe_worker_started", worker=self.index, pid=self.pid)

    async def supervise(self) -> None:
        """Keep the worker running: wait for it to exit, fail its probes, start it again."""
        failures = 0
        while True:
            started = time.monotonic()
            await self.exited.wait()
            self.ready = False
            assert self.transport is not None
            code = self.transport.get_returncode()
            self.transport.close()
            self.last_exit = code
            self.fail_pending(f"probe worker exited ({exit_text(code)})")
            if self.pool.closing:
                return
            failures = 1 if time.monotonic() - started >= STEADY_AFTER else failures + 1
            delay = backoff(failures)
            log.error(
                "probe_worker_exited",
                worker=self.index,
                pid=self.pid,
                exit_code=code,
                exit=exit_text(code),
                restart_in=delay,
            )
            await asyncio.sleep(delay)
            if self.pool.closing:
                return
            try:
                await self.spawn()
                self.restarts += 1
            except OSError as exc:  # cannot even start python: try again after the backoff
                log.error("probe_worker_not_started", worker=self.index, error=str(exc))
                self.exited.set()

    def fail_pending(self, why: str) -> None:
        pending, self.pending = self.pending, {}
        for future, _, _ in pending.values():
            if not future.done():
                future.set_result(down(why))

    def expire(self, now: float) -> None:
        """Answer the probes past their deadline (the worker is stuck or overloaded)."""
        for seq in [seq for seq, (_, deadline, _) in self.pending.items() if deadline <= now]:
            future, _, timeout = self.pending.pop(seq)
            if not future.done():
                why = f"probe worker {self.index} gave no result within {timeout} + "
                future.set_result(down(f"{why}{PROBE_MARGIN:g}s"))

    # ---- pipes -----------------------------------------------------------------------------

    def send(self, message: Any) -> None:
        self._out.send(message)

    def flush(self) -> None:
        self._out.flush()

    def received(self, data: bytes) -> None:
        try:
            for kind, seq, *result in self._decoder.feed(data):
                if kind != "result":
                    continue
                self.probes += 1
                entry = self.pending.pop(seq, None)
                if entry is not None and not entry[0].done():
                    entry[0].set_result(unpack(*result))
        except (FrameError, TypeError, ValueError) as exc:
            log.error("probe_worker_bad_frame", worker=self.index, error=str(exc))
            self.kill()  # its stream cannot be trusted any more: start it afresh

    def stderr(self, data: bytes) -> None:
        """Relay the worker's log lines (JSON) into the daemon's log; other lines as text."""
        self._stderr += data
        *lines, rest = self._stderr.split(b"\n")
        self._stderr = bytearray(rest)
        for raw in lines:
            relay(self.index, raw.decode(errors="replace"))

    def lost_stdout(self) -> None:
        self.ready = False  # no result can come back: new runs fail at once

    def kill(self) -> None:
        self.ready = False
        if self.transport is not None and self.transport.get_returncode() is None:
            with contextlib.suppress(ProcessLookupError):
                self.transport.kill()

    def cpu_seconds(self) -> float | None:
        """User + system CPU of the running process, from /proc (Linux)."""
        if self.pid is None or not self.ready:
            return None
        try:
            with open(f"/proc/{self.pid}/stat") as fh:
                fields = fh.read().rpartition(")")[2].split()
            return (int(fields[11]) + int(fields[12])) / _TICKS
        except (OSError, ValueError, IndexError):
            return None


class _Pipes(asyncio.SubprocessProtocol):
    def __init__(self, worker: _Worker):
        self.worker = worker

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:
            self.worker.received(data)
        else:
            self.worker.stderr(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self.worker.lost_stdout()

    def process_exited(self) -> None:
        self.worker.exited.set()


class ProbePool:
    """N worker processes that run the daemon's active checks (see the module docstring)."""

    def __init__(self, workers: int, *, icmp_mode: IcmpMode, log_level: str = "info"):
        self.icmp_mode = icmp_mode  # decided by the daemon: every worker pings the same way
        self.log_level = log_level
        self.closing = False
        self._configs: list[CheckConfig] = []
        self._seq = itertools.count()
        self.workers = [_Worker(self, i) for i in range(workers)]
        self._sweeper: asyncio.Task[None] | None = None

    def share(self, index: int) -> list[CheckConfig]:
        """The configs worker `index` runs."""
        n = len(self.workers)
        return [c for c in self._configs if worker_of(c.name, n) == index]

    async def start(self, configs: Sequence[CheckConfig]) -> None:
        """Start every worker with its share of `configs` (active checks only)."""
        self._configs = list(configs)
        for worker in self.workers:
            await worker.spawn()
            worker.supervisor = asyncio.create_task(
                worker.supervise(), name=f"probe-worker-{worker.index}"
            )
        self._sweeper = asyncio.create_task(self._sweep(), name="probe-deadlines")

    async def _sweep(self) -> None:
        # One sweep every SWEEP_EVERY s bounds every remote probe: a timer per probe would
        # cost the daemon's CPU on each of thousands of probes a second, a sweep the same at
        # any rate.
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            for worker in self.workers:
                worker.expire(loop.time())

    def configure(self, configs: Sequence[CheckConfig]) -> None:
        """Send the workers their checks (reload). Runs sent after this see the new configs."""
        self._configs = list(configs)
        for worker in self.workers:
            if worker.ready:
                worker.send(("configure", self.icmp_mode, self.share(worker.index)))

    @property
    def alive(self) -> int:
        return sum(w.ready for w in self.workers)

    async def run(self, check: Check) -> Result:
        """Run `check` once in its worker; never raises (except cancellation)."""
        worker = self.workers[worker_of(check.name, len(self.workers))]
        if not worker.ready:
            return down(f"probe worker exited ({exit_text(worker.last_exit)})")
        seq = next(self._seq)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        timeout = check.config.timeout
        deadline = loop.time() + timeout.total_seconds() + PROBE_MARGIN
        worker.pending[seq] = (future, deadline, format_duration(timeout))
        worker.send(("run", seq, check.name))
        try:
            return await future
        finally:
            worker.pending.pop(seq, None)

    async def close(self, grace: float) -> None:
        """Close the workers' stdin, wait up to `grace` s for them to exit, kill the rest."""
        self.closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        for worker in self.workers:
            if worker.supervisor is not None:
                worker.supervisor.cancel()
            if worker.transport is not None and worker.transport.get_returncode() is None:
                worker.flush()
                stdin = worker.transport.get_pipe_transport(0)
                if stdin is not None:
                    stdin.close()
        waits = [w.exited.wait() for w in self.workers if w.transport is not None]
        try:
            async with asyncio.timeout(grace):
                await asyncio.gather(*waits)
        except TimeoutError:
            for worker in self.workers:
                if not worker.exited.is_set():
                    log.warning("probe_worker_killed", worker=worker.index, pid=worker.pid)
                    worker.kill()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await asyncio.gather(*(w.exited.wait() for w in self.workers))
        for worker in self.workers:
            worker.ready = False
            worker.fail_pending("probe worker stopped (the daemon is shutting down)")
            if worker.transport is not None:
                worker.transport.close()

    def metrics(self) -> list[tuple[str, str, str, list[tuple[str, float]]]]:
        """(name, type, help, samples) for /metrics."""

        def each(value: Any) -> list[tuple[str, float]]:
            samples = ((f'{{worker="{w.index}"}}', value(w)) for w in self.workers)
            return [(labels, v) for labels, v in samples if v is not None]

        return [
            (
                "escalatord_probe_workers",
                "gauge",
                "Probe worker processes configured ([daemon] probe_workers).",
                [("", len(self.workers))],
            ),
            (
                "escalatord_probe_workers_alive",
                "gauge",
                "Probe worker processes running and taking probes.",
                [("", self.alive)],
            ),
            (
                "escalatord_probe_worker_in_flight",
                "gauge",
                "Probes sent to a worker and not answered yet.",
                each(lambda w: len(w.pending)),
            ),
            (
                "escalatord_probe_worker_probes_total",
                "counter",
                "Results received from a worker.",
                each(lambda w: w.probes),
            ),
            (
                "escalatord_probe_worker_restarts_total",
                "counter",
                "Times a worker was started again after it exited.",
                each(lambda w: w.restarts),
            ),
            (
                "escalatord_probe_worker_cpu_seconds_total",
                "counter",
                "User and system CPU time of a worker process (since it last started).",
                each(lambda w: w.cpu_seconds()),
            ),
        ]
