"""Run `escalatord` as a real process for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.net import free_port  # noqa: F401 - re-exported for tests


def cli(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one `escalatord` command against `config`."""
    return subprocess.run(
        [sys.executable, "-m", "escalatord", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


class DaemonProcess:
    """`escalatord run` in a subprocess; its log lines go to `log_path`."""

    def __init__(
        self,
        config: Path,
        port: int,
        log_path: Path,
        env: dict[str, str] | None = None,
        prefix: tuple[str, ...] = (),
    ):
        """`prefix` runs the daemon through a wrapper, e.g. `setpriv` to drop a capability."""
        self.config = config
        self.env = env or {}
        self.prefix = prefix
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def health(self) -> dict:
        return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).json()

    def start(self, timeout: float = 20.0) -> DaemonProcess:
        """Spawn the daemon and wait until /healthz answers 200."""
        self.spawn()
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited {self.proc.returncode}:\n{self.logs()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"daemon did not become healthy:\n{self.logs()}")

    def spawn(self) -> DaemonProcess:
        """Start the process and return at once (it may still be starting)."""
        log = open(self.log_path, "ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.proc = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "escalatord", "run", "--config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        return self

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise


def wait_until(predicate, timeout: float = 20.0, what: str = "") -> None:
    """Poll `predicate` every 50 ms until it is true; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
