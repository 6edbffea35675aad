"""Acknowledge from the page: `GET /ack/<token>` shows a confirmation page, `POST` acknowledges.

GET never changes anything, so mail systems and chat apps that fetch links to scan or
preview them cannot acknowledge by accident; only the button (a POST) does. A token that is
malformed or forged, expired, already used, or points at an incident that is no longer
triggered gets a page that says so, with a status code to match, and changes nothing:

    200  confirmation page (GET) / acknowledged (POST)
    403  not a valid link (malformed or forged)
    404  the incident (or the page it came from) no longer exists
    409  the incident is not triggered any more (already acknowledged, resolved or closed)
    410  the link expired, or was already used

Pages are small, self-contained HTML; every value shown is escaped. Responses are not cached
and send no Referer (the token is in the URL).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from escalatord.errors import InvalidTransition, NotFound
from escalatord.incidents import pages
from escalatord.notify.links import AckClaim, BadLink

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

FORM_LIMIT = 4096  # bytes of form body read; the form has one short optional field
NAME_LIMIT = 80
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}h1{font-size:1.3rem}dl{display:grid;grid-template-columns:max-content 1fr;"
    "gap:.3rem 1rem}dt{font-weight:600}button{font-size:1.1rem;padding:.6rem 1.4rem;"
    "background:#c62828;color:#fff;border:0;border-radius:4px;cursor:pointer}"
    "input{font-size:1rem;padding:.3rem;width:100%;box-sizing:border-box}"
    ".ok{color:#2e7d32}.no{color:#c62828}"
)


class LinkChecker(Protocol):
    """Verifies an ack link's signature and expiry (notify/links.py `AckLinks`)."""

    async def check(self, token: str, now: datetime) -> AckClaim: ...


class IncidentStore(Protocol):
    """The store's reader and writer connections (store/db.py `Store`)."""

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]: ...

    def write(self) -> AbstractAsyncContextManager[AsyncConnection]: ...


@dataclass(frozen=True)
class AckServices:
    """What the ack-link routes use: the link checker, the store, and the dispatcher's wake."""

    # The same `AckLinks` (one key) that the dispatcher signs pages with.
    links: LinkChecker
    store: IncidentStore
    wake: Callable[[], None]  # tells the people paged now, not at the dispatcher's next poll


def routes(services: AckServices) -> list[Route]:
    """The ack-link routes, bound to the services they use."""
    links = services.links

    async def ack(request: Request) -> HTMLResponse:
        token = request.path_params["token"]
        now = datetime.now(UTC)
        try:
            claim = await links.check(token, now)
        except BadLink as bad:
            return _bad_link(bad)
        if request.method == "POST":
            return await _acknowledge(services, request, claim, now)
        return await _confirm(services.store, claim, token)

    return [Route("/ack/{token}", ack, methods=["GET", "POST"])]


async def _confirm(store: IncidentStore, claim: AckClaim, token: str) -> HTMLResponse:
    async with store.read() as conn:
        try:
            link = await pages.ack_link(conn, claim.incident_id, claim.outbox_id, claim.token_id)
        except NotFound:
            return _gone_incident(claim)
    refused = _refusal(link)
    if refused is not None:
        return refused
    incident = link.incident
    body = (
        f"<h1>Acknowledge incident {incident.id}?</h1>"
        + _facts(incident, link.recipient)
        + "<p>Acknowledging stops the escalation: nobody else is paged for this incident, "
        "and everyone paged so far is told who took it.</p>"
        f'<form method="post" action="{_e(token)}">'
        # A person's link acknowledges as that person: there is no name to ask for.
        + (
            '<p><label for="name">Your name (optional)</label><br>'
            f'<input id="name" name="name" maxlength="{NAME_LIMIT}" autocomplete="name"></p>'
            if link.person is None
            else ""
        )
        + "<p><button type=submit>Acknowledge</button></p></form>"
    )
    return _page("Acknowledge incident", body, 200)


async def _acknowledge(
    services: AckServices, request: Request, claim: AckClaim, now: datetime
) -> HTMLResponse:
    name = await _name(request)
    try:
        async with services.store.write() as conn:
            row = await pages.acknowledge_by_link(
                conn, claim.incident_id, claim.outbox_id, claim.token_id, now=now, name=name
            )
    except NotFound:
        return _gone_incident(claim)
    except InvalidTransition:
        # Used, or no longer triggered: nothing was written. Say which.
        async with services.store.read() as conn:
            try:
                link = await pages.ack_link(
                    conn, claim.incident_id, claim.outbox_id, claim.token_id
                )
            except NotFound:
                return _gone_incident(claim)
        refused = _refusal(link)
        if refused is not None:
            return refused
        raise
    services.wake()  # tell the people paged now, not at the next poll
    body = (
        f'<h1 class="ok">Incident {row.id} acknowledged</h1>'
        + _facts(row, None)
        + f"<p>Acknowledged by {_e(row.acknowledged_by)}. Escalation has stopped; everyone "
        "paged so far is being told.</p>"
    )
    return _page("Acknowledged", body, 200)


def _refusal(link: pages.AckLink) -> HTMLResponse | None:
    """The page for a link that must not acknowledge, or None when it may."""
    incident = link.incident
    if link.used is not None:
        return _page(
            "Link already used",
            f'<h1 class="no">This link was already used</h1>'
            f"<p>It acknowledged incident {incident.id} for {_e(link.used.used_by)} at "
            f"{link.used.used_at:%Y-%m-%d %H:%M} UTC. Each link works once.</p>"
            + _facts(incident, link.recipient),
            410,
        )
    if incident.status != "triggered":
        who = ""
        if incident.status == "acknowledged":
            who = (
                f" by {_e(incident.acknowledged_by)} at "
                f"{incident.acknowledged_at:%Y-%m-%d %H:%M} UTC"
            )
        return _page(
            f"Incident already {incident.status}",
            f"<h1>Incident {incident.id} is already {_e(incident.status)}</h1>"
            f"<p>It was {_e(incident.status)}{who}: there is nothing to acknowledge.</p>"
            + _facts(incident, link.recipient),
            409,
        )
    return None


def _bad_link(bad: BadLink) -> HTMLResponse:
    if bad.reason == "expired" and bad.claim is not None:
        return _page(
            "Link expired",
            '<h1 class="no">This link has expired</h1>'
            f"<p>It was valid until {bad.claim.expires_at:%Y-%m-%d %H:%M} UTC. Acknowledge "
            f"incident {bad.claim.incident_id} from a newer page, or run "
            f"<code>escalatord ack {bad.claim.incident_id}</code>.</p>",
            410,
        )
    return _page(
        "Not a valid link",
        '<h1 class="no">This is not a valid acknowledgement link</h1>'
        "<p>It may be incomplete (cut off by a mail or chat program) or changed. Nothing was "
        "acknowledged. Open the link from the page again, or use "
        "<code>escalatord ack ID</code>.</p>",
        403,
    )


def _gone_incident(claim: AckClaim) -> HTMLResponse:
    return _page(
        "Incident not found",
        f"<h1>Incident {claim.incident_id} no longer exists</h1><p>Nothing was acknowledged.</p>",
        404,
    )


def _facts(incident: Any, recipient: str | None) -> str:
    rows = [
        ("Incident", f"{incident.id}: {incident.title}"),
        ("Severity", incident.severity),
        ("Status", incident.status),
        ("Check", incident.check),
        ("Summary", incident.summary),
        ("Owner", incident.owner),
        ("Opened", f"{incident.opened_at:%Y-%m-%d %H:%M} UTC"),
    ]
    if recipient is not None:
        rows.append(("Acknowledging as", f"{recipient} (the page this link came in)"))
    return (
        "<dl>"
        + "".join(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>" for label, value in rows if value)
        + "</dl>"
    )


async def _name(request: Request) -> str:
    """The optional name typed in the form: one line, printable, at most NAME_LIMIT chars."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            return ""
    values = parse_qs(body.decode("utf-8", "replace")).get("name") or [""]
    text = "".join(c for c in values[0] if c.isprintable())
    return " ".join(text.split())[:NAME_LIMIT]


def _page(title: str, body: str, status: int) -> HTMLResponse:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex, nofollow">'
        f"<title>{_e(title)} · escalatord</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=HEADERS)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
