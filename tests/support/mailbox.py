"""An SMTP server on loopback (tests/support/smtp.py, no TLS, no AUTH) whose arrivals a test
awaits instead of polling, and which can hold a recipient's delivery half way.

    async with Mailbox() as mail:
        mail.hold("alice.phone@example.org")   # its first RCPT TO waits, unanswered
        ... send to 127.0.0.1:mail.port ...
        await mail.wait_for(lambda: mail.to("alice@example.org"), "alice's page", within=30)
        await mail.wait_for(lambda: mail.holding, "the held delivery", within=30)
        await mail.no_more(within=3)           # nothing else arrives in the next 3 s

`arrivals` lists (time.monotonic() on arrival, [recipients], message) in order. A held RCPT
is answered only when the client goes away (aiosmtpd cancels the session's handler) or the
server closes, so the message it belongs to is never accepted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP

from tests.support.smtp import SmtpServer, _Handler


class _Recording(_Handler):
    server: Mailbox

    async def handle_RCPT(self, smtp, session, envelope, address: str, options) -> str:
        if address in self.server.holds:
            self.server.holds.discard(address)  # only the first delivery to it is held
            self.server.holding.append(address)
            await self.server.changed()
            await self.server.released.wait()  # cancelled when the client goes away
            return "451 4.3.0 held by the test"
        return await super().handle_RCPT(smtp, session, envelope, address, options)

    async def handle_DATA(self, smtp, session, envelope) -> str:
        answer = await super().handle_DATA(smtp, session, envelope)
        _, rcpts, message = self.server.messages[-1]
        self.server.arrivals.append((time.monotonic(), rcpts, message))
        await self.server.changed()
        return answer


class Mailbox(SmtpServer):
    def __init__(self) -> None:
        super().__init__(None, "none")
        self.arrivals: list[tuple[float, list[str], Any]] = []
        self.holds: set[str] = set()
        self.holding: list[str] = []  # addresses whose RCPT is being held now or was
        self.released = asyncio.Event()
        self._changed = asyncio.Condition()

    def _protocol(self) -> SMTP:
        return SMTP(_Recording(self), hostname="smtp.test")

    def hold(self, address: str) -> None:
        """Hold the next RCPT TO `address` unanswered (see the module docstring)."""
        self.holds.add(address)

    def to(self, address: str) -> list[tuple[float, Any]]:
        """(arrival time, message) of each message addressed to `address` alone."""
        return [(at, message) for at, rcpts, message in self.arrivals if rcpts == [address]]

    async def changed(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], object], what: str, within: float) -> None:
        """Wait until `predicate()` is true, checked on each arrival or hold; fail naming
        `what` after `within` seconds."""
        try:
            async with asyncio.timeout(within), self._changed:
                await self._changed.wait_for(predicate)
        except TimeoutError:
            raise AssertionError(f"timed out after {within}s waiting for {what}") from None

    async def no_more(self, within: float) -> None:
        """Fail if any message arrives in the next `within` seconds."""
        count = len(self.arrivals)
        try:
            await self.wait_for(lambda: len(self.arrivals) > count, "", within)
        except AssertionError:
            return
        _, rcpts, message = self.arrivals[count]
        raise AssertionError(f"unexpected message to {rcpts}: {message['Subject']}")

    async def __aexit__(self, *exc: object) -> None:
        self.released.set()
        await super().__aexit__(*exc)
