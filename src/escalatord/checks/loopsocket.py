"""A datagram socket shared by every check of a process, read by one event loop's callback.

Both shared sockets (ICMP in pinger.py, SNMP in snmp_fast.py) match replies to requests in
flight (`_pending`) from a reader callback (`_on_readable`) on the running loop. A process may
run checks on more than one loop over its life (the CLI, tests), so the reader moves with it.
"""

from __future__ import annotations

import abc
import asyncio
import socket
from typing import Any


class LoopSocket(abc.ABC):
    """Base of the shared sockets: `_attach(loop)` before each request is sent."""

    _sock: socket.socket
    _loop: asyncio.AbstractEventLoop | None
    _pending: dict[Any, Any]  # request key -> its waiter (`.future`, and `.timer` or None)

    @abc.abstractmethod
    def _on_readable(self) -> None:
        """Read what the socket holds and settle the requests it answers."""

    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Read the socket from `loop` (re-attaching if the previous loop went away)."""
        if self._loop is loop:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        self._pending.clear()  # futures of another loop can never be awaited here
        loop.add_reader(self._sock.fileno(), self._on_readable)
        self._loop = loop

    def _finish(self, key: Any, answer: Any) -> None:
        """Settle the request under `key` with `answer` (a reply, or what stands for none)."""
        waiter = self._forget(key)
        if waiter is not None and not waiter.future.done():
            waiter.future.set_result(answer)

    def _forget(self, key: Any) -> Any:
        """The waiter of `key`, no longer pending and with its timer cancelled; None if gone."""
        waiter = self._pending.pop(key, None)
        if waiter is not None and waiter.timer is not None:
            waiter.timer.cancel()
        return waiter
