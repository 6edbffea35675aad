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
started outlives it. At most `MAX_PARALLEL` plugins run at once per daemon, so a burst of
checks cannot fork-bomb the host; the others wait for a free slot (within their timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from pathlib import Path

from pydantic import Field, model_validator

from escalatord.checks.base import Check, CheckConfig, Result, Status
from escalatord.checks.perfdata import parse_output

MAX_PARALLEL = max(8, 4 * (os.cpu_count() or 1))
OUTPUT_CAP = 64 << 10  # bytes of each of stdout and stderr that are kept
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


async def _drain(stream: asyncio.StreamReader | None) -> bytes:
    """Read a pipe to its end, keeping the first OUTPUT_CAP bytes (the rest is discarded,
    not left in the pipe, where it would block the plugin)."""
    if stream is None:
        return b""
    kept = bytearray()
    while chunk := await stream.read(65536):
        if len(kept) < OUTPUT_CAP:
            kept += chunk[: OUTPUT_CAP - len(kept)]
    return bytes(kept)


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
        try:
            proc = await asyncio.create_subprocess_exec(
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
        try:
            out, err = await asyncio.gather(_drain(proc.stdout), _drain(proc.stderr))
            code = await proc.wait()
        finally:
            # On timeout (execute() cancels us) and after a normal exit alike: whatever the
            # plugin left running in its group goes too.
            _kill_group(proc.pid)
            if proc.returncode is None:
                await proc.wait()
        return self._judge(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

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
