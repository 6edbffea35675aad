"""Signed acknowledgement links: made by the dispatcher for each page, checked by /ack/<token>.

A token names one outbox row (one page to one notifier) and so one incident and one
recipient (the notifier), and says until when it is valid:

    <incident>.<outbox row>.<expires, Unix seconds>.<signature>

The signature is HMAC-SHA256 over "escalatord-ack:v1:<incident>.<row>.<expires>" with the
ack key, base64url, first 128 bits: nobody without the key can make or change a token. The
expiry is the page's enqueue time plus `[daemon] ack_ttl`, so every retry of one page carries
the same link. A token works once: its id (`<incident>.<row>`) is written to `ack_tokens`
when it is used (incidents/service.py). Tokens are short on purpose (SMS).

The key is `[daemon] ack_secret` when set. Otherwise a random key is made the first time one
is needed and kept in the database (`ack_keys`), so links survive restarts and every node and
CLI sharing the database agrees. It is never logged. Changing `ack_secret` (or deleting the
stored key) invalidates every link already sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pydantic import SecretStr
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from escalatord.store.db import Store
from escalatord.store.tables import ack_keys

KEY_NAME = "ack-links"
SIGNATURE_BYTES = 16
_TOKEN = re.compile(r"^(\d{1,12})\.(\d{1,12})\.(\d{1,12})\.([A-Za-z0-9_-]{22})$")


class LinkSettings(Protocol):
    """What links need from config (`DaemonConfig` has all three)."""

    @property
    def base_url(self) -> str: ...

    ack_secret: SecretStr | None
    ack_ttl: timedelta


class BadLink(Exception):
    """A token that must not acknowledge anything. `reason`: malformed, forged or expired."""

    def __init__(self, reason: str, claim: AckClaim | None = None):
        super().__init__(reason)
        self.reason = reason
        self.claim = claim


@dataclass(frozen=True)
class AckClaim:
    """What a correctly signed token says."""

    incident_id: int
    outbox_id: int
    expires_at: datetime

    @property
    def token_id(self) -> str:
        """The single-use id recorded in `ack_tokens`."""
        return f"{self.incident_id}.{self.outbox_id}"


def _signature(key: bytes, incident_id: int, outbox_id: int, expires: int) -> str:
    message = f"escalatord-ack:v1:{incident_id}.{outbox_id}.{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(key: bytes, incident_id: int, outbox_id: int, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    return f"{incident_id}.{outbox_id}.{expires}.{_signature(key, incident_id, outbox_id, expires)}"


def read_token(key: bytes, token: str, now: datetime) -> AckClaim:
    """The claim of a valid token; BadLink("malformed" | "forged" | "expired") otherwise.

    The signature is checked before anything else is believed, in constant time.
    """
    found = _TOKEN.match(token)
    if not found:
        raise BadLink("malformed")
    incident_id, outbox_id, expires = (int(found.group(i)) for i in (1, 2, 3))
    expected = _signature(key, incident_id, outbox_id, expires)
    if not hmac.compare_digest(expected, found.group(4)):
        raise BadLink("forged")
    claim = AckClaim(incident_id, outbox_id, datetime.fromtimestamp(expires, UTC))
    if now >= claim.expires_at:
        raise BadLink("expired", claim)
    return claim


async def stored_key(store: Store, name: str = KEY_NAME) -> bytes:
    """The generated key `name` from the database (`ack_keys`), made (once, race-safe) if
    there is none. The ack links' key by default; the web console keeps its session key here
    too, under its own name (console/sessions.py)."""
    async with store.read() as conn:
        found = (
            await conn.execute(select(ack_keys.c.secret).where(ack_keys.c.name == name))
        ).scalar()
    if found is None:
        try:
            async with store.write() as conn:
                # Re-read inside the write transaction: another process may have just made it.
                found = (
                    await conn.execute(select(ack_keys.c.secret).where(ack_keys.c.name == name))
                ).scalar()
                if found is None:
                    found = secrets.token_hex(32)
                    await conn.execute(
                        insert(ack_keys).values(
                            name=name, secret=found, created_at=datetime.now(UTC)
                        )
                    )
        except IntegrityError:  # another node inserted it between our read and write
            async with store.read() as conn:
                found = (
                    await conn.execute(select(ack_keys.c.secret).where(ack_keys.c.name == name))
                ).scalar()
    if found is None:  # pragma: no cover - the insert above either worked or raced
        raise RuntimeError(f"no {name} key could be stored")
    return found.encode()


class AckLinks:
    """Makes and checks ack links for one store. `settings` is read on every call, so a
    reloaded config (public_url, ack_ttl, ack_secret) takes effect at once."""

    def __init__(self, store: Store, settings: Callable[[], LinkSettings]):
        self.store = store
        self.settings = settings
        self._stored: bytes | None = None

    async def key(self) -> bytes:
        secret = self.settings().ack_secret
        if secret is not None:
            return secret.get_secret_value().strip().encode()
        if self._stored is None:
            self._stored = await stored_key(self.store)
        return self._stored

    async def url(self, incident_id: int, outbox_id: int, enqueued_at: datetime) -> str:
        """The link for one page: valid for `ack_ttl` from when the page was enqueued."""
        settings = self.settings()
        token = make_token(await self.key(), incident_id, outbox_id, enqueued_at + settings.ack_ttl)
        return f"{settings.base_url}/ack/{token}"

    async def check(self, token: str, now: datetime) -> AckClaim:
        """The claim of `token`, or BadLink."""
        return read_token(await self.key(), token, now)
