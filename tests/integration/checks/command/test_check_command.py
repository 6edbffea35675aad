"""The command check running real monitoring plugins (Debian's monitoring-plugins) on loopback."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from escalatord.checks.base import CheckContext, execute
from escalatord.checks.command import check as command_module
from escalatord.checks.command.check import CommandCheck
from escalatord.core.status import Status
from tests.support import programs
from tests.support.http_target import HttpTarget

PLUGINS = Path("/usr/lib/nagios/plugins")
needs_plugins = programs.needs(str(PLUGINS / "check_dummy"))


@pytest.fixture
async def context() -> AsyncIterator[CheckContext]:
    ctx = CheckContext()
    yield ctx
    await ctx.aclose()


def make(context: CheckContext, command: Any, **keys: Any) -> CommandCheck:
    keys.setdefault("timeout", "10s")
    config = CommandCheck.Config(name="plugin", type="command", command=command, **keys)
    return CommandCheck(config, context)


def plugin(name: str, *args: str) -> list[str]:
    return [str(PLUGINS / name), *args]


@pytest.fixture(scope="module")
def web() -> Iterator[HttpTarget]:
    with HttpTarget() as t:
        yield t


@needs_plugins
@pytest.mark.parametrize(
    ("code", "status"),
    [("0", Status.OK), ("1", Status.WARNING), ("2", Status.CRITICAL), ("3", Status.UNKNOWN)],
)
async def test_check_dummy_exit_codes_map_to_statuses(context, code: str, status: Status):
    """check_dummy's exit codes 0/1/2/3 are ok/warning/critical/unknown; its line is the summary."""
    result = await execute(make(context, plugin("check_dummy", code, "interface engine")))
    assert result.status is status
    assert result.summary.endswith(": interface engine")


@needs_plugins
async def test_check_tcp_open_and_closed_port(context):
    """check_tcp: an open loopback port is ok with its response time as a measurement;
    a closed one is critical."""
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await execute(
            make(context, plugin("check_tcp", "-H", "127.0.0.1", "-p", str(port)))
        )
    finally:
        server.close()
    assert result.status is Status.OK and result.summary.startswith("TCP OK")
    assert "time" in result.measurements
    await server.wait_closed()
    closed = await execute(make(context, plugin("check_tcp", "-H", "127.0.0.1", "-p", str(port))))
    assert closed.status is Status.CRITICAL and "refused" in closed.summary.lower()


@needs_plugins
async def test_check_http_against_a_loopback_server(context, web: HttpTarget):
    """check_http: 200 is ok with time and size measurements; a 500 is critical."""
    args = plugin("check_http", "-H", "127.0.0.1", "-p", str(web.port), "-u", "/health")
    web.respond(200, "ok")
    result = await execute(make(context, args))
    assert result.status is Status.OK and result.summary.startswith("HTTP OK")
    assert {"time", "size"} <= set(result.measurements)
    web.respond(500, "database down")
    failed = await execute(make(context, args))
    assert failed.status is Status.CRITICAL and "500" in failed.summary


@needs_plugins
async def test_check_disk_perfdata(context, tmp_path: Path):
    """check_disk on the test's directory: ok, and its perfdata label carries the used bytes."""
    result = await execute(
        make(context, plugin("check_disk", "-w", "0%", "-c", "0%", "-p", str(tmp_path)))
    )
    assert result.status is Status.OK and result.summary.startswith("DISK OK")
    assert len(result.measurements) == 1 and next(iter(result.measurements.values())) > 0


async def test_timeout_kills_the_whole_process_group(context, tmp_path: Path):
    """At the timeout the plugin and what it started are killed; the run is critical."""
    pidfile = tmp_path / "pids"
    script = f"sleep 60 & echo $! > {pidfile}; echo $$ >> {pidfile}; wait"
    result = await execute(make(context, script, shell=True, timeout="500ms"))
    assert result.status is Status.CRITICAL and "timed out after 500ms" in result.summary
    for pid in map(int, pidfile.read_text().split()):
        _gone(pid)


def _gone(pid: int) -> None:
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        # A killed child of ours is a zombie until reaped; /proc says so.
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1]
        if state == "Z":
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} outlived the check")


async def test_odd_exit_codes_and_signals_are_unknown(context):
    """An exit code outside 0-3, or death by a signal, is unknown and says so."""
    odd = await execute(make(context, "echo broken; exit 7", shell=True))
    assert odd.status is Status.UNKNOWN
    assert odd.summary == "exit code 7 is not a plugin status (0-3): broken"
    killed = await execute(make(context, ["/bin/sh", "-c", "kill -TERM $$"]))
    assert killed.status is Status.UNKNOWN and "killed by signal SIGTERM" in killed.summary


async def test_arguments_are_not_interpreted_by_a_shell(context):
    """Without shell, arguments reach the program literally: no expansion, no command chaining."""
    result = await execute(make(context, ["/bin/echo", "$HOME; echo injected"]))
    assert result.status is Status.OK
    assert result.summary == "$HOME; echo injected"


async def test_perfdata_stderr_and_environment(context):
    """Perfdata becomes measurements; stderr is the summary when stdout is empty; env is passed."""
    perf = await execute(make(context, "echo 'QUEUE OK | depth=12;100;500;0 age=3.5s'", shell=True))
    assert perf.measurements == {"depth": 12.0, "age": 3.5}
    quiet = await execute(make(context, "echo 'cannot open queue' >&2; exit 2", shell=True))
    assert quiet.status is Status.CRITICAL and quiet.summary == "cannot open queue"
    env = await execute(make(context, "echo $LC_ALL $QUEUE", shell=True, env={"QUEUE": "adt"}))
    assert env.summary == "C adt"


async def test_concurrency_is_limited(context, tmp_path: Path, monkeypatch):
    """No more than MAX_PARALLEL plugins run at once; the rest wait their turn."""
    monkeypatch.setattr(command_module, "MAX_PARALLEL", 2)
    log = tmp_path / "log"
    script = f"echo start >> {log}; sleep 0.2; echo end >> {log}"
    checks = [make(context, script, shell=True) for _ in range(6)]
    results = await asyncio.gather(*(execute(c) for c in checks))
    assert all(r.status is Status.OK for r in results)
    running = peak = 0
    for line in log.read_text().split():
        running += 1 if line == "start" else -1
        peak = max(peak, running)
    assert peak == 2


def test_config_errors_name_the_fix():
    """A missing program, a string without shell, or a list with shell are config errors."""
    for command, shell, text in (
        (["/no/such/plugin"], False, "not found or is not executable"),
        (["no-such-plugin-on-path"], False, "not found on PATH"),
        ("check_disk -w 10%", False, "command must be a list"),
        (["/bin/true"], True, "with shell = true, command is one string"),
    ):
        with pytest.raises(ValidationError, match=text):
            CommandCheck.Config(name="p", type="command", command=command, shell=shell)
    assert shutil.which("true") is not None
    CommandCheck.Config(name="p", type="command", command=["true"])  # found on PATH


async def test_exit_is_judged_although_a_background_child_holds_the_pipes(context, tmp_path):
    """A plugin that exits 0 leaving `sleep 30 &` on its stdout is ok with its output, not
    "timed out", and the child it left behind is killed with its group."""
    pidfile = tmp_path / "pid"
    script = f"echo 'OK - queue empty'; sleep 30 & echo $! > {pidfile}; exit 0"
    result = await execute(make(context, script, shell=True, timeout="5s"))
    assert (result.status, result.summary) == (Status.OK, "OK - queue empty")
    _gone(int(pidfile.read_text()))
