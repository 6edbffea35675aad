"""Signing in and out: GET /login (the form), POST /login, POST /logout.

A person signs in with their name and the password whose argon2id hash is their
`password_hash` (made by `escalatord passwd`). Every attempt costs one argon2 verification,
also for a name that is not configured or has no password (against a hash made at start), so
the answer's time does not tell which names exist. Verifications run in a worker thread (one
takes tens of milliseconds and 64 MiB), at most VERIFY_AT_ONCE at a time. Failed attempts are
limited per client address and per name (console/limits.py): past the limit, 429 with
Retry-After, and no verification is done.

The sign-in form has its own CSRF token, in a session without a person; signing in replaces
that session with a new one (new token), signing out deletes the cookie.
"""

from __future__ import annotations

import asyncio
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from escalatord.console import sessions
from escalatord.console.base import Console, safe_next
from escalatord.console.limits import LoginLimiter

VERIFY_AT_ONCE = 2
NAME_MAX = 200
PASSWORD_MAX = 1024  # argon2 takes any length; a megabyte "password" is not one


@cache
def _unknown_hash() -> str:
    """A hash nobody knows the password of, with the default parameters (as `passwd` makes)."""
    return PasswordHasher().hash(secrets.token_urlsafe(32))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def routes(console: Console) -> list[Route]:
    """The sign-in routes, sharing one limiter of failed attempts."""
    limiter = LoginLimiter()
    verifying = asyncio.Semaphore(VERIFY_AT_ONCE)
    _unknown_hash()  # made now: the first unknown name must not cost a hash as well
    services = console.services

    async def form(request: Request, *, status: int = 200, problem: str = "",
                   name: str = "", headers: dict[str, str] | None = None) -> Response:  # fmt: skip
        session = await console.session(request)
        if session is None or session.person is not None:
            session = sessions.new_session(services.now())
        response = console.render(
            "login.html.j2", status=status, headers=headers, csrf=session.csrf, problem=problem,
            name=name, next=safe_next(request.query_params.get("next")),
        )  # fmt: skip
        await console.set_cookie(response, session)
        return response

    async def login_page(request: Request) -> Response:
        if await console.visitor(request) is not None:
            return console.redirect(safe_next(request.query_params.get("next")))
        return await form(request)

    async def login(request: Request) -> Response:
        refused = await console.check_csrf(request, await console.session(request))
        if refused is not None:
            return refused
        fields = request.state.form
        name = fields.get("name", "").strip()[:NAME_MAX]
        password = fields.get("password", "")[:PASSWORD_MAX]
        now = services.now()
        address = request.client.host if request.client else "unknown"
        keys = [("addr", address), ("name", name.lower())]
        wait = limiter.retry_after(keys, now)
        if wait is not None:
            return await form(
                request, status=429, name=name, headers={"Retry-After": str(wait)},
                problem=f"Too many failed sign-ins: try again in {wait} s.",
            )  # fmt: skip
        person = services.person(name) if name else None
        stored = person.password_hash if person is not None else None
        async with verifying:  # an unknown name costs one verification too
            good = await asyncio.to_thread(_verify, stored or _unknown_hash(), password)
        if person is None or not stored or not good:
            limiter.failed(keys, now)
            return await form(request, status=401, name=name,
                              problem="Unknown name or wrong password.")  # fmt: skip
        limiter.succeeded(("name", name.lower()))
        session = sessions.new_session(now, person.name, sessions.fingerprint(stored))
        response = console.redirect(safe_next(request.query_params.get("next")))
        await console.set_cookie(response, session)
        return response

    async def logout(request: Request) -> Response:
        # Signed in or not, with the session's token: nobody can sign a visitor out from
        # another site.
        refused = await console.check_csrf(request, await console.session(request))
        if refused is not None:
            return refused
        response = console.redirect("/login")
        await console.set_cookie(response, None)
        return response

    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]
