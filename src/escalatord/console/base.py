"""What every console page is built with: the services, the templates, who is signed in, and
`require(role)`, the guard every signed-in route goes through.

    @console.require("responder")
    async def acknowledge(request: Request, visitor: Visitor) -> Response:
        form = request.state.form          # checked already: a POST's CSRF token is valid
        ...                                 # act as `visitor.name` (the timeline's "by")
        return console.redirect("/incidents/7")

`require` answers a visitor without a valid session (none, forged, expired, or a person no
longer configured with that password) with a redirect to /login?next=<path> (401 for the
board's live fragment, whose script then reloads the page), a signed-in visitor whose role is
too low with a 403 page, and a POST whose form lacks the session's CSRF token with a 403 page.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from escalatord import __version__
from escalatord.console import sessions
from escalatord.console.feed import BoardFeed
from escalatord.console.forms import BadForm, read_form
from escalatord.console.services import ConsoleServices
from escalatord.console.sessions import Session

ROLES = ("viewer", "responder", "admin")  # each may do what the ones before it may
TEMPLATES = Path(__file__).parent / "templates"
# Pages are the daemon's own: no script, style or frame from elsewhere, not framed anywhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Visitor:
    """The signed-in person a request is from. `name` is who acts: pass it as `by` to the
    incidents' service functions, so the timeline says who did it from the console."""

    name: str
    display_name: str
    role: str
    csrf: str  # put in every form as <input type="hidden" name="csrf" value="...">

    def may(self, role: str) -> bool:
        """Whether this visitor's role is `role` or above."""
        return ROLES.index(self.role) >= ROLES.index(role)


Handler = Callable[[Request, Visitor], Awaitable[Response]]


class Console:
    """The console's shared parts; page modules take one and return their routes."""

    def __init__(self, services: ConsoleServices):
        self.services = services
        self.templates = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.globals["version"] = __version__
        # The board's data, read once per refresh for every visitor (board and /status).
        self.feed = BoardFeed(services)
        self.nav: list[tuple[str, str, str]] = []  # (label, path, role) in the page header
        self._stored: bytes | None = None  # the stored session key, once read (`key`)

    async def key(self) -> bytes:
        """The session key: `[web] secret`, else the one kept in the database, read once (as
        AckLinks keeps its key): every request needs it, the board's polls too."""
        secret = self.services.settings().secret
        if secret is not None:
            return secret.get_secret_value().strip().encode()
        if self._stored is None:
            self._stored = await self.services.stored_key()
        return self._stored

    async def session(self, request: Request) -> Session | None:
        """The request's unexpired session (signed in or not); None without one."""
        try:
            return request.state.console_session  # read once per request
        except AttributeError:
            found = sessions.load(await self.key(), request.cookies.get(sessions.COOKIE))
            ttl = self.services.settings().session_ttl
            if found is not None and found.expired(self.services.now(), ttl):
                found = None
            request.state.console_session = found
            return found

    async def visitor(self, request: Request) -> Visitor | None:
        """Who is signed in: the session's person, still configured with the same password."""
        session = await self.session(request)
        if session is None or session.person is None:
            return None
        person = self.services.person(session.person)
        if person is None or not person.password_hash:
            return None
        if not hmac.compare_digest(sessions.fingerprint(person.password_hash), session.fingerprint):
            return None
        return Visitor(person.name, person.display_name, person.role, session.csrf)

    async def set_cookie(self, response: Response, session: Session | None) -> None:
        """Send `session` as the cookie (None: delete it)."""
        secure = self.services.settings().secure(self.services.public_url())
        if session is None:
            response.delete_cookie(sessions.COOKIE, path="/", secure=secure, httponly=True,
                                   samesite="lax")  # fmt: skip
            return
        response.set_cookie(
            sessions.COOKIE,
            sessions.dump(await self.key(), session),
            max_age=int(self.services.settings().session_ttl.total_seconds()),
            path="/",
            secure=secure,
            httponly=True,
            samesite="lax",
        )

    def render(
        self,
        template: str,
        *,
        visitor: Visitor | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """`template` rendered as a page (or fragment) with the console's headers."""
        settings = self.services.settings()
        nav = [(label, path) for label, path, role in self.nav if visitor and visitor.may(role)]
        html = self.templates.get_template(template).render(
            title=settings.title, visitor=visitor, nav=nav, **context
        )
        return HTMLResponse(
            html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})}
        )

    def refuse(self, status: int, message: str, visitor: Visitor | None = None,
               headers: Mapping[str, str] | None = None) -> HTMLResponse:  # fmt: skip
        """An error page: 403 wrong role or CSRF, 404, 429 too many sign-ins."""
        return self.render("error.html.j2", visitor=visitor, status=status, headers=headers,
                           code=status, message=message)  # fmt: skip

    @staticmethod
    def redirect(path: str) -> RedirectResponse:
        """See other: after a POST, the browser GETs `path` (a local path only)."""
        return RedirectResponse(path, status_code=303, headers=SECURITY_HEADERS)

    async def check_csrf(self, request: Request, session: Session | None) -> Response | None:
        """For a POST: read its form into `request.state.form` and refuse (403) one whose
        `csrf` field is not the session's token; None when it may go on."""
        try:
            form = await read_form(request)
        except BadForm as bad:
            return self.refuse(bad.status, str(bad))
        request.state.form = form
        given = form.get("csrf", "")
        if session is None or not hmac.compare_digest(given.encode(), session.csrf.encode()):
            return self.refuse(
                403, "This form has expired or did not come from this console: reload the "
                "page and try again."
            )  # fmt: skip
        return None

    def require(self, role: str, *, fragment: bool = False) -> Callable[[Handler], Any]:
        """Guard a route: signed in with `role` or above, and a valid CSRF token on POST.
        `fragment`: a piece of a page fetched by script; no session answers 401, not a
        redirect to the sign-in page."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")

        def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
            async def endpoint(request: Request) -> Response:
                visitor = await self.visitor(request)
                if visitor is None:
                    if fragment:
                        return Response("sign in again", status_code=401, headers=SECURITY_HEADERS)
                    return self.redirect(login_path(request))
                if not visitor.may(role):
                    return self.refuse(
                        403, f"This needs the {role} role; you are signed in as "
                        f"{visitor.name} ({visitor.role}).", visitor,
                    )  # fmt: skip
                if request.method == "POST":
                    refused = await self.check_csrf(request, await self.session(request))
                    if refused is not None:
                        return refused
                return await handler(request, visitor)

            endpoint.__name__ = handler.__name__
            endpoint.__doc__ = handler.__doc__
            return endpoint

        return wrap


def login_path(request: Request) -> str:
    """/login?next=<this page>: where a visitor without a session is sent."""
    path = request.url.path
    if request.url.query:
        path += f"?{request.url.query}"
    return f"/login?next={quote(path, safe='/')}"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a local path only (never `//host` or a URL)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
