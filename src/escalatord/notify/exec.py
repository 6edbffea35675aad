"""The `exec` notifier: runs a program of yours with the notification as JSON on stdin.

Config keys (besides the common ones, see `NotifierConfig`):

    command  the program and its arguments, e.g. ["/usr/local/bin/page-radio", "--loud"];
             run directly, no shell (so no quoting, globbing or injection)
    env      extra environment variables for it, e.g. { RADIO_CHANNEL = "3" }

The program's standard input is the webhook payload (DESIGN.md "Webhook payload", one JSON
object and a newline, ack_url filled in for pages). Its environment is the daemon's plus
ESCALATORD_EVENT, ESCALATORD_INCIDENT_ID, ESCALATORD_SEVERITY, ESCALATORD_TITLE (the
message title), ESCALATORD_ACK_URL, ESCALATORD_NOTIFICATION_KEY (the idempotency key) and
ESCALATORD_NOTIFIER. A page to a person also sets ESCALATORD_PERSON (their name),
ESCALATORD_PERSON_FULL_NAME ("" when the config gives none) and ESCALATORD_TO (the contact's
address), and the payload carries "person" and "to"; a message to a channel has none of them.

    exit 0                               delivered
    exit 75 (EX_TEMPFAIL), killed by a
    signal, or still running at timeout  retried (at timeout the program and everything it
                                         started get SIGKILL)
    any other exit, or cannot start      permanent failure; stderr's last lines in the error
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal

from pydantic import Field, field_validator

from escalatord.core.events import Notification
from escalatord.errors import NotifyError
from escalatord.notify.base import Notifier, NotifierConfig
from escalatord.notify.templates import render

EX_TEMPFAIL = 75
STDERR_CHARS = 300
PERSON_VARS = ("ESCALATORD_PERSON", "ESCALATORD_PERSON_FULL_NAME", "ESCALATORD_TO")


class ExecConfig(NotifierConfig):
    """Keys of a `type = "exec"` notifier."""

    command: tuple[str, ...] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict, repr=False)

    @field_validator("command")
    @classmethod
    def _command(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value[0].strip():
            raise ValueError('command: the first item is the program, e.g. ["/usr/bin/logger"]')
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not name or "=" in name or "\0" in name:
                raise ValueError(f"env: {name!r} is not a valid variable name")
        return value


class ExecNotifier(Notifier):
    """Runs `command` once per notification."""

    Config = ExecConfig
    addresses_person = True  # a contact's `to` is one person's address here
    config: ExecConfig

    async def send(self, notification: Notification) -> None:
        """Run the program with the payload on stdin; raise NotifyError on failure."""
        cfg = self.config
        incident = notification.incident
        env = {
            **os.environ,
            **cfg.env,
            "ESCALATORD_EVENT": str(notification.event),
            "ESCALATORD_INCIDENT_ID": incident.id,
            "ESCALATORD_SEVERITY": incident.severity,
            "ESCALATORD_TITLE": render(notification, cfg.template).title,
            "ESCALATORD_ACK_URL": incident.ack_url or "",
            "ESCALATORD_NOTIFICATION_KEY": notification.key,
            "ESCALATORD_NOTIFIER": self.name,
        }
        person = notification.person
        if person is not None:
            env["ESCALATORD_PERSON"] = person.name
            env["ESCALATORD_PERSON_FULL_NAME"] = person.full_name or ""
            env["ESCALATORD_TO"] = notification.to or ""
        else:
            # A channel message: none inherited from the daemon's own environment either, so
            # a program may tell the two apart by whether ESCALATORD_PERSON is set.
            for name in PERSON_VARS:
                env.pop(name, None)
        stdin = (json.dumps(notification.payload(), ensure_ascii=False) + "\n").encode()
        program = cfg.command[0]
        try:
            proc = await asyncio.create_subprocess_exec(
                *cfg.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                start_new_session=True,  # its own process group, killed whole at timeout
            )
        except OSError as exc:
            raise self._error(f"cannot run {program}: {exc.strerror or exc}", False) from None
        timeout = cfg.timeout.total_seconds()
        try:
            _, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
        except TimeoutError:
            await self._kill(proc)
            raise self._error(f"{program} still running after {timeout:g}s: killed", True) from None
        except BaseException:  # cancelled (shutdown): leave nothing running
            await self._kill(proc)
            raise
        code = proc.returncode
        if code == 0:
            return
        tail = " ".join(err.decode("utf-8", "replace").split())[-STDERR_CHARS:]
        detail = f": {tail}" if tail else ""
        if code is not None and code < 0:
            raise self._error(f"{program} was killed by signal {-code}{detail}", True)
        if code == EX_TEMPFAIL:
            raise self._error(f"{program} exited 75 (temporary failure){detail}", True)
        raise self._error(f"{program} exited {code}{detail}", False)

    @staticmethod
    async def _kill(proc: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            await proc.wait()

    def _error(self, detail: str, retryable: bool) -> NotifyError:
        return NotifyError(f"exec {self.name!r}: {detail}", retryable=retryable)
