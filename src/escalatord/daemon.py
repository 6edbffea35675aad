"""Lifecycle of `escalatord run`: start, SIGTERM, SIGHUP (reload), sd_notify, watchdog."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path

import structlog

from escalatord.app import App
from escalatord.config.loader import load
from escalatord.config.model import Config
from escalatord.errors import ConfigError

log = structlog.get_logger("escalatord.daemon")


def sd_notify(message: str) -> bool:
    """Send one sd_notify datagram to $NOTIFY_SOCKET; False when not under systemd or on error."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
        return True
    except OSError as exc:
        log.warning("sd_notify_failed", error=str(exc))
        return False


def watchdog_interval() -> float | None:
    """Half of systemd's WatchdogSec, when the watchdog is meant for this process."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000


class Daemon:
    def __init__(self, config_path: str | Path, config: Config | None = None):
        self.config_path = str(config_path)
        self._initial = config  # already loaded by the caller: not parsed twice at start
        self.app: App | None = None
        self._stop = asyncio.Event()
        self._reloading: asyncio.Task[None] | None = None
        self._started = False
        self._reload_pending = False

    async def run(self) -> None:
        """Run until SIGTERM or SIGINT. Raises ConfigError or StoreError when it cannot start."""
        config = self._initial or load(self.config_path)
        self._initial = None
        # Signals are ours before start begins: a SIGTERM while the store opens or the checks
        # are built stops the daemon in order once start is done (the default action would end
        # it mid-write), and a SIGHUP then is a reload after start.
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self._stop.set)
        loop.add_signal_handler(signal.SIGINT, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._request_reload)
        self.app = App(config)
        try:
            await self.app.start()
        except BaseException:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            raise
        self._started = True
        if self._reload_pending:
            self._request_reload()
        watchdog = None
        every = watchdog_interval()
        if every:
            watchdog = asyncio.create_task(self._watchdog(every))
        if not self._stop.is_set():
            sd_notify("READY=1\nSTATUS=" + config.summary())
        try:
            await self._stop.wait()
        finally:
            log.info("stopping")
            sd_notify("STOPPING=1")
            if watchdog:
                watchdog.cancel()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            await self.app.stop(self.app.config.daemon.shutdown_timeout.total_seconds())

    def _request_reload(self) -> None:
        if not self._started:  # SIGHUP while starting: reload once start is done
            self._reload_pending = True
            return
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.create_task(self.reload())

    async def reload(self) -> bool:
        """Load the config again; a bad one is logged whole and the running one is kept."""
        assert self.app is not None
        sd_notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")
        try:
            config = load(self.config_path)
            await self.app.reload(config)
            return True
        except ConfigError as exc:
            for problem in exc.problems:
                log.error(
                    "reload_rejected", file=problem.file, key=problem.path, problem=problem.message
                )
            log.error("reload_failed", hint="the previous config keeps running; fix and reload")
            return False
        except Exception:
            log.exception("reload_failed")
            return False
        finally:
            sd_notify("READY=1")

    async def _watchdog(self, every: float) -> None:
        """Ping systemd only while the loop runs and the store is healthy (it answers, takes
        writes, and its file is the one opened: Store.problems): under systemd a wedged daemon,
        or one that can no longer write its database, is restarted after WatchdogSec."""
        assert self.app is not None
        while True:
            if await self.app.store.healthy():
                sd_notify("WATCHDOG=1")
            await asyncio.sleep(every)
