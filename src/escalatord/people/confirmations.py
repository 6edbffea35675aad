"""Contact tests (`escalatord test-contacts`) and their confirmations, kept in the
`contact_tests` table on SQLite and PostgreSQL.

A test is one message to one contact of one person. It is an outbox row like any page, so the
running daemon's dispatcher sends it with everything a page gets (the notifier's rate limit
and circuit breaker, retries with backoff until `max_age`, claims that survive a crash): the
command line only writes rows, as `drill`, `snooze` and `oncall override` do, and the daemon
delivers them. (`test-notify` sends at once from the command line because it tests a
notifier's settings and must answer now; a contact test asks a person to answer, in their own
time, so it must not be lost to a brief outage of the notifier.) The row is a `test` event
without an incident (as a handoff notice is: `incident_id` NULL, `person` and `address` set,
key "contact-test:<person>#<contact>:<sent at>"), so notifiers that already know test
messages lay it out as one, and no ack link is added to it.

The message says it is a TEST from escalatord, whom it is for and at which contact, and
carries a confirm link. The link is signed like an ack link (notify/links.py, the same key)
but over its own purpose string, so neither kind of token is accepted for the other:

    <test id>.<expires, Unix seconds>.<signature>

with the signature HMAC-SHA256 over "escalatord-confirm:v1:<test id>.<expires>", base64url,
first 128 bits. It is valid until the test's `expires_at` and works once: following it sets
`confirmed_at` (a second use is refused and changes nothing).

A contact is (person, notifier, address): the config's index is recorded for the record, but
reordering contacts keeps their confirmations, and a changed address has none.

Every store function takes a connection; writes belong in `store.write()`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core.durations import format_duration
from escalatord.core.events import Event, IncidentView
from escalatord.store.tables import contact_tests, outbox

PURPOSE = "escalatord-confirm:v1:"
SIGNATURE_BYTES = 16
DEFAULT_TTL = timedelta(days=7)  # long enough for someone off shift to see and answer it
_TOKEN = re.compile(r"^(\d{1,12})\.(\d{1,12})\.([A-Za-z0-9_-]{22})$")

Ident = tuple[str, str, str]  # (person, notifier, address)


@dataclass(frozen=True)
class Contact:
    """One contact of one person as the config says now (`index` from 0, as in outbox keys)."""

    person: str
    full_name: str | None
    index: int
    notifier: str
    to: str
    after: timedelta = timedelta(0)

    @property
    def ident(self) -> Ident:
        return (self.person, self.notifier, self.to)

    @property
    def display(self) -> str:
        return self.full_name or self.person


class BadToken(Exception):
    """A token that must not confirm anything. `reason`: malformed, forged or expired."""

    def __init__(self, reason: str, claim: ConfirmClaim | None = None):
        super().__init__(reason)
        self.reason = reason
        self.claim = claim


@dataclass(frozen=True)
class ConfirmClaim:
    """What a correctly signed confirm token says."""

    test_id: int
    expires_at: datetime


def _signature(key: bytes, test_id: int, expires: int) -> str:
    message = f"{PURPOSE}{test_id}.{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(key: bytes, test_id: int, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    return f"{test_id}.{expires}.{_signature(key, test_id, expires)}"


def read_token(key: bytes, token: str, now: datetime) -> ConfirmClaim:
    """The claim of a valid token; BadToken("malformed" | "forged" | "expired") otherwise.
    The signature is checked (in constant time) before anything else is believed."""
    found = _TOKEN.match(token)
    if not found:
        raise BadToken("malformed")
    test_id, expires = int(found.group(1)), int(found.group(2))
    if not hmac.compare_digest(_signature(key, test_id, expires), found.group(3)):
        raise BadToken("forged")
    claim = ConfirmClaim(test_id, datetime.fromtimestamp(expires, UTC))
    if now >= claim.expires_at:
        raise BadToken("expired", claim)
    return claim


def confirm_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/confirm/{token}"


def message(contact: Contact, url: str, expires_at: datetime, key: str) -> IncidentView:
    """What the test says, in the payload's `incident` object (no incident is behind it):
    id "contact-test", status "test", severity "info"; the link is in the summary, which every
    notifier's default text shows (an SMS too: title and summary)."""
    return IncidentView(
        id="contact-test",
        key=key,
        title=f"TEST from escalatord for {contact.display}: please confirm this contact",
        status="test",
        severity="info",
        check="",
        labels={"person": contact.person, "contact": str(contact.index)},
        summary=(
            f"This is a TEST of contact {contact.index} of {contact.display} "
            f"({contact.notifier} -> {contact.to}); nothing is wrong. Open this link to "
            f"confirm that pages reach you here: {url} (valid until "
            f"{expires_at:%Y-%m-%d %H:%M} UTC)"
        ),
    )


@dataclass(frozen=True)
class ContactTest:
    """One stored test."""

    id: int
    person: str
    contact: int
    notifier: str
    address: str
    sent_at: datetime
    sent_by: str
    expires_at: datetime
    outbox_key: str
    confirmed_at: datetime | None
    confirmed_from: str | None

    @property
    def ident(self) -> Ident:
        return (self.person, self.notifier, self.address)


def _test(row: Any) -> ContactTest:
    return ContactTest(**{c.name: getattr(row, c.name) for c in contact_tests.columns})


@dataclass(frozen=True)
class Sent:
    """A test written: its row and the link it carries."""

    test: ContactTest
    url: str


async def send_tests(
    conn: AsyncConnection,
    contacts: Sequence[Contact],
    *,
    key: bytes,
    base_url: str,
    now: datetime,
    by: str,
    ttl: timedelta = DEFAULT_TTL,
) -> list[Sent]:
    """Write one test and its outbox row per contact (the daemon sends them); returns them."""
    expires_at = now + ttl
    sent = []
    for contact in contacts:
        outbox_key = f"contact-test:{contact.person}#{contact.index}:{now.isoformat()}"
        values = dict(
            person=contact.person,
            contact=contact.index,
            notifier=contact.notifier,
            address=contact.to,
            sent_at=now,
            sent_by=by,
            expires_at=expires_at,
            outbox_key=outbox_key,
        )
        result = await conn.execute(insert(contact_tests).values(**values))
        test_id = int(result.inserted_primary_key[0])
        url = confirm_url(base_url, make_token(key, test_id, expires_at))
        payload = message(contact, url, expires_at, outbox_key).to_json()
        # The dispatcher names the person from the row; their full name travels here.
        payload["person"] = {"name": contact.person, "full_name": contact.full_name}
        await conn.execute(
            insert(outbox).values(
                key=outbox_key,
                incident_id=None,
                notifier=contact.notifier,
                event=str(Event.TEST),
                level=0,
                payload=payload,
                status="pending",
                attempts=0,
                created_at=now,
                next_attempt_at=now,
                person=contact.person,
                address=contact.to,
            )
        )
        test = ContactTest(id=test_id, confirmed_at=None, confirmed_from=None, **values)
        sent.append(Sent(test, url))
    return sent


async def find(conn: AsyncConnection, test_id: int, *, lock: bool = False) -> ContactTest | None:
    stmt = select(contact_tests).where(contact_tests.c.id == test_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).first()
    return None if row is None else _test(row)


async def confirm(
    conn: AsyncConnection, test_id: int, *, now: datetime, source: str
) -> tuple[ContactTest | None, bool]:
    """Confirm test `test_id`: (the test as it is now, whether this call confirmed it). A
    test already confirmed is left as it is (False); an unknown one gives (None, False)."""
    test = await find(conn, test_id, lock=True)
    if test is None or test.confirmed_at is not None:
        return test, False
    done = await conn.execute(
        update(contact_tests)
        .where(and_(contact_tests.c.id == test_id, contact_tests.c.confirmed_at.is_(None)))
        .values(confirmed_at=now, confirmed_from=source[:200])
    )
    if not done.rowcount:  # pragma: no cover - the row lock above makes this a race lost
        return await find(conn, test_id), False
    return await find(conn, test_id), True


def _ago(now: datetime, at: datetime) -> str:
    """How long before `now`, to the minute."""
    minutes = max(0, int((now - at).total_seconds()) // 60)
    return format_duration(timedelta(minutes=minutes)) if minutes else "under 1m"


@dataclass(frozen=True)
class Standing:
    """What is known of one contact: its newest test (with what became of its message) and
    its newest confirmation."""

    last_sent: ContactTest | None = None
    delivery: str | None = None  # the newest test's outbox status, None when no longer kept
    delivery_error: str | None = None
    last_confirmed: ContactTest | None = None

    @property
    def confirmed_at(self) -> datetime | None:
        return self.last_confirmed.confirmed_at if self.last_confirmed else None

    def describe_sent(self, now: datetime) -> str:
        test = self.last_sent
        if test is None:
            return "never tested"
        ago = _ago(now, test.sent_at)
        state = self.delivery or "sent"
        if state == "failed" and self.delivery_error:
            state = f"failed: {self.delivery_error}"
        return f"{test.sent_at:%Y-%m-%d %H:%M} UTC ({ago} ago, {state})"

    def describe_confirmed(self, now: datetime) -> str:
        at = self.confirmed_at
        if at is None:
            return "never confirmed"
        ago = _ago(now, at)
        return f"{at:%Y-%m-%d %H:%M} UTC ({ago} ago)"


async def standings(
    conn: AsyncConnection, persons: Iterable[str] | None = None
) -> dict[Ident, Standing]:
    """Each tested contact's standing, by (person, notifier, address); of `persons` only
    when given."""
    stmt = select(contact_tests, outbox.c.status.label("delivery"), outbox.c.last_error).join(
        outbox, outbox.c.key == contact_tests.c.outbox_key, isouter=True
    )
    if persons is not None:
        stmt = stmt.where(contact_tests.c.person.in_(list(persons)))
    found: dict[Ident, Standing] = {}
    for row in (await conn.execute(stmt.order_by(contact_tests.c.id))).all():
        test = _test(row)
        known = found.get(test.ident, Standing())
        confirmed = test if test.confirmed_at is not None else known.last_confirmed
        if confirmed is not None and known.last_confirmed is not None:
            confirmed = max(confirmed, known.last_confirmed, key=lambda t: t.confirmed_at)
        found[test.ident] = Standing(test, row.delivery, row.last_error, confirmed)
    return found
