"""The `command` check: run a monitoring plugin (Nagios conventions) and read its verdict.

    [[check]]
    name = "root-disk"
    type = "command"
    command = ["/usr/lib/nagios/plugins/check_disk", "-w", "10%", "-c", "5%", "-p", "/"]
    # shell = false             # true: `command` is one string run by /bin/sh -c
    # env = { LC_ALL = "C" }    # added to the daemon's environment (LC_ALL=C is the default)
    # cwd = "/var/lib/escalatord"

Exit code 0/1/2/3 → ok/warning/critical/unknown; any other code, or death by a signal, is
unknown. The first line of output (before `|`) is the summary; perfdata becomes the result's
measurements (see `perfdata.py`). The plugin runs in a process group of its own: at the
check's `timeout`, and when the plugin exits, the whole group is killed, so nothing it
started outlives it. The verdict is taken when the plugin exits, even if something it
started still holds its output pipes (`sleep 30 &`): what was written by then is kept.
At most `MAX_PARALLEL` plugins run at once per daemon, so a burst of checks cannot
fork-bomb the host; the others wait for a free slot (within their timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from pathlib import Path

from pydantic import Field, model_validator

from escalatord.checks.base import Check, CheckConfig
from escalatord.checks.command.perfdata import parse_output
from escalatord.core.status import Result, Status

MAX_PARALLEL = max(8, 4 * (os.cpu_count() or 1))
OUTPUT_CAP = 64 << 10  # bytes of each of stdout and stderr that are kept
OUTPUT_GRACE = 2.0  # seconds to finish reading output once the plugin has exited
STATUSES = {0: Status.OK, 1: Status.WARNING, 2: Status.CRITICAL, 3: Status.UNKNOWN}


class CommandConfig(CheckConfig):
    command: tuple[str, ...] | str
    shell: bool = False
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None

    @model_validator(mode="after")
    def _command(self) -> CommandConfig:
        if self.shell:
            if not isinstance(self.command, str) or not self.command.strip():
                raise ValueError(
                    "with shell = true, command is one string for /bin/sh -c, e.g. "
                    'command = "check_disk -w 10% -c 5% -p / | head -1"'
                )
        else:
            if isinstance(self.command, str) or not self.command:
                raise ValueError(
                    "command must be a list: the program and its arguments, e.g. "
                    'command = ["/usr/lib/nagios/plugins/check_disk", "-w", "10%", "-p", "/"] '
                    "(or set shell = true to run one string through /bin/sh)"
                )
            program = self.command[0]
            found = shutil.which(program) if "/" not in program else program
            if found is None or not os.access(found, os.X_OK) or Path(found).is_dir():
                where = "on PATH" if "/" not in program else "or is not executable"
                raise ValueError(f"command: program {program!r} not found {where}")
        if self.cwd is not None and not Path(self.cwd).is_dir():
            raise ValueError(f"cwd {self.cwd!r} is not a directory")
        return self


class _Plugin(asyncio.SubprocessProtocol):
    """Collects a plugin's stdout and stderr (the first OUTPUT_CAP bytes of each; the rest is
    read and discarded, not left in the pipe, where it would block the plugin) and says when
    the process has exited and when its pipes have closed: two different moments when the
    plugin left a background child holding the pipes."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.output = {1: bytearray(), 2: bytearray()}
        self.exited: asyncio.Future[None] = loop.create_future()
        self.finished: asyncio.Future[None] = loop.create_future()  # exited and pipes closed

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        kept = self.output.get(fd)
        if kept is not None and len(kept) < OUTPUT_CAP:
            kept += data[: OUTPUT_CAP - len(kept)]

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished.done():
            self.finished.set_result(None)

    def text(self, fd: int) -> str:
        return self.output[fd].decode("utf-8", "replace")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class CommandCheck(Check):
    """One plugin run per check run; see the module docstring for the keys."""

    Config = CommandConfig
    config: CommandConfig

    def _argv(self) -> list[str]:
        cmd = self.config.command
        return ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)

    async def probe(self) -> Result:
        slots: asyncio.Semaphore = self.context.shared(
            "command.slots", lambda: asyncio.Semaphore(MAX_PARALLEL)
        )
        async with slots:
            return await self._run()

    async def _run(self) -> Result:
        cfg = self.config
        argv = self._argv()
        # LC_ALL=C: plugins print numbers with a decimal point, whatever the host's locale.
        env = {**os.environ, "LC_ALL": "C", **cfg.env}
        loop = asyncio.get_running_loop()
        try:
            transport, plugin = await loop.subprocess_exec(
                lambda: _Plugin(loop),
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group, killed as a whole
                env=env,
                cwd=cfg.cwd,
            )
        except OSError as exc:
            return Result(Status.UNKNOWN, f"cannot run {argv[0]}: {exc.strerror or exc}")
        pid = transport.get_pid()
        try:
            # The verdict is the exit code, known when the plugin exits, not when its pipes
            # close: a child it left in the background may hold them open for much longer.
            await plugin.exited
            _kill_group(pid)  # that child goes now; then the pipes close and the output is read
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(plugin.finished), OUTPUT_GRACE)
        finally:
            # On timeout (execute() cancels us) and after a normal exit alike: whatever the
            # plugin left running in its group goes too, and is reaped before we return.
            _kill_group(pid)
            try:
                if not plugin.exited.done():
                    await asyncio.shield(plugin.exited)
            finally:
                transport.close()  # pipes still held by a process outside the group: dropped
        code = transport.get_returncode()
        assert code is not None  # it has exited
        return self._judge(code, plugin.text(1), plugin.text(2))

    def _judge(self, code: int, out: str, err: str) -> Result:
        parsed = parse_output(out) if out.strip() else parse_output(err)
        summary = parsed.summary or "(no output)"
        measurements = parsed.measurements()
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else -code
            return Result(Status.UNKNOWN, f"killed by signal {name}: {summary}", measurements)
        status = STATUSES.get(code)
        if status is None:
            return Result(
                Status.UNKNOWN,
                f"exit code {code} is not a plugin status (0-3): {summary}",
                measurements,
            )
        return Result(status, summary, measurements)
