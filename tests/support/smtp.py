"""A real SMTP server on loopback for tests (aiosmtpd in the test's own event loop).

    async with SmtpServer(tls=certs, security="starttls", users={"pager": "s3cret"}) as smtp:
        ... send to 127.0.0.1:smtp.port ...
        smtp.messages   # [(envelope sender, [recipients], email.message.EmailMessage)]

`security` is "starttls" (STARTTLS required before anything else, AUTH only after it),
"tls" (implicit TLS from the first byte) or "none". With `users`, AUTH is required.
Recipients whose local part is "nobody" are refused with 550. `certificate()` makes a
self-signed certificate for 127.0.0.1 and localhost (tests/support/certs.py).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from tests.support.certs import self_signed


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def certificate(directory: Path) -> Certificate:
    """A self-signed EC certificate for 127.0.0.1 and localhost, valid for two days."""
    return Certificate(*self_signed(directory, days=2))


class _Handler:
    def __init__(self, server: SmtpServer):
        self.server = server

    async def handle_RCPT(self, _smtp, _session, envelope, address: str, _options) -> str:
        if address.split("@")[0].lower() == "nobody":
            return f"550 5.1.1 <{address}>: no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _smtp, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.server.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        self.server.sessions.append(session)
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(
        self,
        tls: Certificate | None = None,
        security: str = "starttls",
        users: dict[str, str] | None = None,
    ):
        self.tls = tls
        self.security = security
        self.users = users or {}
        self.messages: list[tuple[str, list[str], Any]] = []
        self.sessions: list[Any] = []
        self.auth_attempts: list[str] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    def _authenticate(self, _smtp, _session, _envelope, _mechanism, data) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        self.auth_attempts.append(login)
        return AuthResult(success=self.users.get(login) == password, handled=False)

    def _protocol(self) -> SMTP:
        context = self.tls.server_context() if self.tls else None
        return SMTP(
            _Handler(self),
            hostname="smtp.test",
            tls_context=context if self.security == "starttls" else None,
            require_starttls=self.security == "starttls",
            auth_required=bool(self.users),
            # With implicit TLS the whole session is encrypted, but aiosmtpd only counts
            # STARTTLS as TLS: let AUTH through there.
            auth_require_tls=self.security == "starttls",
            authenticator=self._authenticate if self.users else None,
        )

    async def __aenter__(self) -> SmtpServer:
        loop = asyncio.get_running_loop()
        ssl_context = self.tls.server_context() if self.tls and self.security == "tls" else None
        self._server = await loop.create_server(self._protocol, "127.0.0.1", 0, ssl=ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
