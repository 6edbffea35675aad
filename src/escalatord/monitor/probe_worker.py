"""A probe worker process: runs the checks the daemon hands it and sends back their results.

Started by `monitor/probes.py` as `python -m escalatord.monitor.probe_worker`, it talks to
the daemon over its stdin and stdout in length-prefixed pickle frames (`encode`,
`FrameDecoder`; the daemon is the only writer, so unpickling is safe):

- daemon → worker `("configure", icmp_mode, [CheckConfig, ...])`: the checks this worker
  runs, and the ICMP mode the daemon decided (checks/ping/icmp_mode.py), so it pings as the daemon
  would. A check whose config is unchanged keeps its object, so what it remembers between runs
  (a resolved ifIndex, counter deltas, cached answers) survives a reload, as in the daemon.
- daemon → worker `("run", seq, name)`: run that check once (`execute()`, its hard timeout);
  any number run at once.
- worker → daemon `("result", seq, *pack(Result))`: the result as plain values (a pickled
  dataclass costs several times more to encode and decode).

Frames are written in batches, FLUSH_DELAY after the first one queued: a write to a pipe wakes
the reader, and on a VM a wake-up for each probe's frame was a sizeable share of its CPU.

Its stdout carries only frames: fd 1 is pointed at stderr, so a stray print cannot corrupt
them. Its log lines (structlog JSON with a `worker` field) go to stderr, which the daemon
relays into its own log. It ignores SIGTERM and SIGINT (systemd signals the whole cgroup:
the daemon must still be able to drain probes in flight), exits when its stdin closes, and
the kernel kills it when the daemon dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import os
import pickle
import signal
import struct
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from escalatord import loop
from escalatord.checks.base import Check, CheckConfig, CheckContext, execute
from escalatord.core.status import Result, Status
from escalatord.monitor.overload import LoopLag

if TYPE_CHECKING:
    from escalatord.checks.ping.icmp_mode import IcmpMode

log = structlog.get_logger("escalatord.probe_worker")

_HEADER = struct.Struct(">I")
MAX_FRAME = 256 << 20  # a frame longer than this is a corrupt stream, not a message
PR_SET_PDEATHSIG = 1
FLUSH_DELAY = 0.005  # seconds frames wait to share one write (one wake-up of the reader)
FLUSH_BYTES = 256 << 10  # ...unless this much is queued
_STATUS = {s.value: s for s in Status}


def encode(message: Any) -> bytes:
    """One frame: a 4-byte big-endian length, then the pickled message."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(body)) + body


def pack(result: Result) -> tuple[str, str, dict[str, float], float, float | None, float]:
    """A Result as plain values, for a frame."""
    at = result.at.timestamp() if result.at is not None else None
    r = result
    return r.status.value, r.summary, r.measurements, r.duration, at, r.lost


def unpack(
    status: str,
    summary: str,
    measurements: dict[str, float],
    duration: float,
    at: float | None,
    lost: float = 0.0,
) -> Result:
    """The Result `pack()` made."""
    when = datetime.fromtimestamp(at, UTC) if at is not None else None
    return Result(_STATUS[status], summary, measurements, duration, when, lost)


class FrameWriter:
    """Frames queued together go out in one write, FLUSH_DELAY after the first."""

    def __init__(self, transport: Callable[[], Any]):
        self._transport = transport  # the pipe transport now (None: gone)
        self._out: list[bytes] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None

    def send(self, message: Any) -> None:
        frame = encode(message)
        self._out.append(frame)
        self._size += len(frame)
        if self._size >= FLUSH_BYTES:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_DELAY, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        data, self._out, self._size = b"".join(self._out), [], 0
        pipe = self._transport()
        if data and pipe is not None and not pipe.is_closing():
            pipe.write(data)


class FrameError(Exception):
    """The byte stream is not a sequence of frames (a corrupt or foreign writer)."""


class FrameDecoder:
    """Feed it bytes as they arrive; it yields each complete message."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[Any]:
        buffer = self._buffer
        buffer += data
        start = 0
        try:
            while len(buffer) - start >= 4:
                (size,) = _HEADER.unpack_from(buffer, start)
                if size > MAX_FRAME:
                    raise FrameError(f"frame of {size} bytes")
                end = start + 4 + size
                if len(buffer) < end:
                    break
                try:
                    message = pickle.loads(memoryview(buffer)[start + 4 : end])
                except Exception as exc:
                    raise FrameError(f"undecodable frame: {type(exc).__name__}: {exc}") from None
                start = end
                yield message
        finally:
            del buffer[:start]


class Worker:
    """The worker's checks and the probes it is running."""

    def __init__(self, write: Any):
        self._out = FrameWriter(lambda: write)  # the protocol channel (the saved stdout)
        self.context: CheckContext | None = None
        self.checks: dict[str, Check] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.closed = asyncio.Event()
        # This worker's own loop lateness: a probe that timed out while it stalled is the
        # worker's overload, and the daemon judges it so (Result.lost; core/overload.py).
        self.lag = LoopLag()

    def handle(self, message: Any) -> None:
        kind = message[0]
        if kind == "run":
            _, seq, name = message
            task = asyncio.create_task(self._run(seq, name), name=f"probe:{name}")
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif kind == "configure":
            _, icmp_mode, configs = message
            self.configure(icmp_mode, configs)
        else:
            log.error("probe_worker_unknown_message", kind=str(kind))

    def configure(self, icmp_mode: IcmpMode, configs: Sequence[CheckConfig]) -> None:
        """Use `configs` from now on; unchanged checks keep their objects (App.reload's rule)."""
        from escalatord import plugins

        if self.context is None:  # the ICMP mode is fixed for the worker's life (a restart key)
            self.context = CheckContext(icmp_privileged=icmp_mode.setting, icmp_mode=icmp_mode)
        checks: dict[str, Check] = {}
        for config in configs:
            kept = self.checks.get(config.name)
            if kept is not None and kept.config == config:
                checks[config.name] = kept
                continue
            try:
                checks[config.name] = plugins.load("checks", config.type)(config, self.context)
            except Exception:  # one unloadable type must not stop the others
                log.exception("probe_worker_check_not_built", check=config.name)
        dropped = [c for n, c in self.checks.items() if checks.get(n) is not c]
        self.checks = checks
        if dropped:
            task = asyncio.create_task(_close(dropped), name="close-dropped")
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        gc.collect()
        gc.freeze()  # the configs and checks live long: keep them out of the GC's scans

    async def _run(self, seq: int, name: str) -> None:
        check = self.checks.get(name)
        if check is None:
            result = Result(Status.UNKNOWN, f"check {name} is not configured in this probe worker")
        else:
            stalled = self.lag.lost()
            result = await execute(check)
            result = replace(result, lost=self.lag.lost() - stalled)
        self._out.send(("result", seq, *pack(result)))

    async def shutdown(self) -> None:
        """Stdin closed: the daemon has stopped waiting for results. Release everything."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await _close(list(self.checks.values()))
        if self.context is not None:
            await self.context.aclose()


async def _close(checks: list[Check]) -> None:
    for check in checks:
        with contextlib.suppress(Exception):
            await check.close()


class _Commands(asyncio.Protocol):
    """Reads frames from stdin and hands each message to the worker."""

    def __init__(self, worker: Worker):
        self.worker = worker
        self.decoder = FrameDecoder()

    def data_received(self, data: bytes) -> None:
        try:
            for message in self.decoder.feed(data):
                self.worker.handle(message)
        except FrameError as exc:
            log.error("probe_worker_bad_frame", error=str(exc))
            self.worker.closed.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.closed.set()


async def serve(stdin: Any, stdout: Any) -> None:
    """Serve commands from the `stdin` pipe until it closes; frames go out on `stdout`."""
    loop = asyncio.get_running_loop()
    write, _ = await loop.connect_write_pipe(asyncio.Protocol, stdout)
    worker = Worker(write)
    worker.lag.start()
    reader, _ = await loop.connect_read_pipe(lambda: _Commands(worker), stdin)
    await worker.closed.wait()
    worker.lag.stop()
    reader.close()
    await worker.shutdown()
    write.close()


def die_with_parent(parent: int) -> None:
    """Ask the kernel for SIGKILL when the daemon dies; exit now if it already has."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        sys.exit(0)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="escalatord.monitor.probe_worker")
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    die_with_parent(args.parent)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdout = open(os.dup(1), "wb", buffering=0)  # the protocol channel...
    os.dup2(2, 1)  # ...and fd 1 becomes stderr: a stray print cannot corrupt a frame
    stdin = open(0, "rb", buffering=0, closefd=False)
    from escalatord import logging as eslog

    eslog.configure(args.log_level, json=True, stream=sys.stderr)
    structlog.contextvars.bind_contextvars(worker=args.index)
    loop.run(serve(stdin, stdout))


if __name__ == "__main__":
    main()
