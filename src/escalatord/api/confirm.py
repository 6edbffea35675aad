"""Confirm a contact from its test message (`escalatord test-contacts`): `GET /confirm/<token>`
shows a small page with a button, `POST` records the confirmation.

As with /ack/<token> (api/ack.py), GET never changes anything: mail systems and chat apps
that fetch links to scan or preview them cannot confirm a contact nobody read. The token is
a confirm token (people/confirmations.py), signed with the ack-link key over its own purpose
string: an ack token is not a valid link here, nor a confirm token at /ack. Answers:

    200  confirm page (GET) / confirmed (POST)
    403  not a valid link (malformed or forged)
    404  the test no longer exists
    410  the link expired, or was already used

The pages are api/ack.py's: small, self-contained HTML, every value escaped, not cached, no
Referer sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

# The ack pages' HTML shell and escaping: one look and one set of headers for both links.
from escalatord.api.ack import _e as text
from escalatord.api.ack import _page as page
from escalatord.people import confirmations
from escalatord.people.confirmations import BadToken, ContactTest

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


class Store(Protocol):
    """The store's reader and writer connections (store/db.py `Store`)."""

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]: ...

    def write(self) -> AbstractAsyncContextManager[AsyncConnection]: ...


@dataclass(frozen=True)
class ConfirmServices:
    """What the confirm route uses: the key that signs links (notify/links.py
    `AckLinks.key`, the dispatcher's) and the store."""

    key: Callable[[], Awaitable[bytes]]
    store: Store


def routes(services: ConfirmServices) -> list[Route]:
    """The confirm-link route, bound to the services it uses."""

    async def confirm(request: Request) -> HTMLResponse:
        token = request.path_params["token"]
        now = datetime.now(UTC)
        try:
            claim = confirmations.read_token(await services.key(), token, now)
        except BadToken as bad:
            return _bad_link(bad)
        if request.method == "POST":
            source = request.client.host if request.client else "unknown"
            async with services.store.write() as conn:
                test, done = await confirmations.confirm(
                    conn, claim.test_id, now=now, source=source
                )
        else:
            async with services.store.read() as conn:
                test, done = await confirmations.find(conn, claim.test_id), False
        if test is None:
            return page(
                "Test not found",
                "<h1>This contact test no longer exists</h1><p>Nothing was confirmed. Ask for "
                "a new one: <code>escalatord test-contacts</code>.</p>",
                404,
            )
        if done:
            return page(
                "Contact confirmed",
                '<h1 class="ok">Contact confirmed</h1>'
                + _facts(test)
                + "<p>Thank you: pages sent to this contact are known to reach you.</p>",
                200,
            )
        if test.confirmed_at is not None:
            return page(
                "Link already used",
                '<h1 class="no">This link was already used</h1>'
                f"<p>It confirmed this contact at {test.confirmed_at:%Y-%m-%d %H:%M} UTC. "
                "Each link works once; nothing more is needed.</p>" + _facts(test),
                410,
            )
        body = (
            "<h1>Confirm this contact?</h1>"
            + _facts(test)
            + "<p>This was a test message from escalatord: nothing is wrong. Confirming tells "
            "the people who run it that pages sent here reach you.</p>"
            f'<form method="post" action="{text(token)}">'
            "<p><button type=submit>Confirm</button></p></form>"
        )
        return page("Confirm contact", body, 200)

    return [Route("/confirm/{token}", confirm, methods=["GET", "POST"])]


def _facts(test: ContactTest) -> str:
    rows = [
        ("Person", test.person),
        ("Contact", f"{test.contact}: {test.notifier} → {test.address}"),
        ("Test sent", f"{test.sent_at:%Y-%m-%d %H:%M} UTC"),
    ]
    return (
        "<dl>"
        + "".join(f"<dt>{text(label)}</dt><dd>{text(value)}</dd>" for label, value in rows)
        + "</dl>"
    )


def _bad_link(bad: BadToken) -> HTMLResponse:
    if bad.reason == "expired" and bad.claim is not None:
        return page(
            "Link expired",
            '<h1 class="no">This link has expired</h1>'
            f"<p>It was valid until {bad.claim.expires_at:%Y-%m-%d %H:%M} UTC. Nothing was "
            "confirmed; ask for a new test: <code>escalatord test-contacts</code>.</p>",
            410,
        )
    return page(
        "Not a valid link",
        '<h1 class="no">This is not a valid confirmation link</h1>'
        "<p>It may be incomplete (cut off by a mail or chat program) or changed. Nothing was "
        "confirmed. Open the link from the test message again.</p>",
        403,
    )
