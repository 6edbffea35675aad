"""A stand-in for systemd's notify socket: what a daemon started with $NOTIFY_SOCKET sends."""

from __future__ import annotations

import socket
import threading
from pathlib import Path


class NotifySocket:
    """`with NotifySocket(path) as ns: env = ns.env(watchdog=0.4)`; `ns.received()` lists the
    datagrams so far ("READY=1", "WATCHDOG=1", ...).

    A thread reads the socket all the time, as systemd does: a datagram socket holds only a
    few unread messages, and a daemon pinging a full one would block."""

    def __init__(self, path: Path):
        self.path = path
        self._messages: list[str] = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.1)
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                message = self._sock.recv(4096).decode()
            except TimeoutError:
                continue
            with self._lock:
                self._messages.append(message)

    def env(self, watchdog: float | None = None) -> dict[str, str]:
        """Environment for the daemon: the socket, and WATCHDOG_USEC for `watchdog` seconds."""
        env = {"NOTIFY_SOCKET": str(self.path)}
        if watchdog is not None:
            env["WATCHDOG_USEC"] = str(int(watchdog * 1_000_000))
        return env

    def received(self) -> list[str]:
        with self._lock:
            return list(self._messages)

    def count(self, message: str) -> int:
        return self.received().count(message)

    def __enter__(self) -> NotifySocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        self._reader.join(5)
        self._sock.close()
