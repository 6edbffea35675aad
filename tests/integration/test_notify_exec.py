"""The exec notifier running real programs: stdin payload, environment, exit codes, timeout."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path

import pytest

from escalatord import plugins
from escalatord.errors import NotifyError
from escalatord.notify.exec import ExecNotifier
from tests.support.notifications import ACK_URL, sample


def program(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "page.py"
    script.write_text(textwrap.dedent(body))
    return [sys.executable, str(script)]


def alive(pid: int) -> bool:
    """Whether `pid` is a running process (a zombie awaiting its parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def run(command: list[str], **keys) -> None:
    config = {"name": "radio", "type": "exec", "command": command, "timeout": "5s", **keys}
    await ExecNotifier(ExecNotifier.Config.model_validate(config)).send(sample())


def test_registry_resolves_exec_type():
    """`type = "exec"` resolves to the exec notifier."""
    assert plugins.load("notifiers", "exec") is ExecNotifier


async def test_program_gets_the_payload_and_environment(tmp_path):
    """The program reads the webhook payload on stdin and finds the key facts in its env."""
    out = tmp_path / "got.json"
    command = program(
        tmp_path,
        f"""
        import json, os, sys
        payload = json.load(sys.stdin)
        env = {{k: v for k, v in os.environ.items() if k.startswith(("ESCALATORD_", "RADIO_"))}}
        open({str(out)!r}, "w").write(json.dumps({{"payload": payload, "env": env}}))
        """,
    )
    await run(command, env={"RADIO_CHANNEL": "3"})
    got = json.loads(out.read_text())
    assert got["payload"] == sample().payload()
    assert got["env"] == {
        "RADIO_CHANNEL": "3",
        "ESCALATORD_EVENT": "triggered",
        "ESCALATORD_INCIDENT_ID": "42",
        "ESCALATORD_SEVERITY": "critical",
        "ESCALATORD_TITLE": "[CRITICAL] hl7-adt-feed is CRITICAL",
        "ESCALATORD_ACK_URL": ACK_URL,
        "ESCALATORD_NOTIFICATION_KEY": "42:0:triggered:n",
        "ESCALATORD_NOTIFIER": "radio",
    }


@pytest.mark.parametrize(("code", "retryable"), [(75, True), (1, False), (2, False)])
async def test_exit_codes(tmp_path, code, retryable):
    """Exit 75 (EX_TEMPFAIL) is retried; other failures are permanent, quoting stderr."""
    command = program(
        tmp_path,
        f"import sys; sys.stdin.read(); print('radio offline', file=sys.stderr); sys.exit({code})",
    )
    with pytest.raises(NotifyError) as caught:
        await run(command)
    assert caught.value.retryable is retryable
    assert f"exited {code}" in str(caught.value) and "radio offline" in str(caught.value)


async def test_a_hanging_program_is_killed_with_its_children(tmp_path):
    """A program still running at the timeout is killed (its whole group) and retried."""
    marker = tmp_path / "child.pid"
    command = program(
        tmp_path,
        f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(marker)!r}, "w").write(str(child.pid))
        time.sleep(60)
        """,
    )
    with pytest.raises(NotifyError) as caught:
        await run(command, timeout="1s")
    assert caught.value.retryable and "killed" in str(caught.value)
    child = int(marker.read_text())
    # SIGKILL is delivered when the kernel next schedules the child: on a busy machine that
    # can take a moment after killpg() returned.
    for _ in range(100):
        if not alive(child):
            break
        await asyncio.sleep(0.02)
    assert not alive(child)


async def test_missing_program_is_permanent(tmp_path):
    """A program that does not exist fails permanently, naming it."""
    with pytest.raises(NotifyError) as caught:
        await run([str(tmp_path / "nope")])
    assert not caught.value.retryable and "cannot run" in str(caught.value)
