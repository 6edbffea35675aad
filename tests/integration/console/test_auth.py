"""The console's guard as a browser meets it, through its ASGI app: sign-in, roles, CSRF,
expiry and the limit on failed sign-ins. Persons and [web] are in-memory stand-ins for the
config and time is a clock the test moves; no store is read (the pages here read nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from escalatord.console import sessions, signin
from escalatord.console.base import Console, Visitor
from escalatord.console.limits import MAX_FAILURES, WINDOW
from escalatord.console.services import ConsoleServices
from tests.support.console import PASSWORDS, ROLES, cheap_hash, sign_in

SECRET = "0123456789abcdef0123456789abcdef"


@dataclass
class Person:
    name: str
    password_hash: str | None
    role: str

    @property
    def display_name(self) -> str:
        return self.name.title()


@dataclass
class Settings:
    public_status: bool = False
    session_ttl: timedelta = timedelta(hours=12)
    title: str = "Test ops"
    secret: SecretStr | None = field(default_factory=lambda: SecretStr(SECRET))

    def secure(self, public_url: str | None) -> bool:
        return bool(public_url and public_url.startswith("https://"))


@dataclass
class Clock:
    at: datetime = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


@dataclass
class World:
    """The stand-in config (persons, [web], public_url), the clock, and what the test pages
    saw."""

    persons: dict[str, Person]
    settings: Settings = field(default_factory=Settings)
    clock: Clock = field(default_factory=Clock)
    acted: list[str] = field(default_factory=list)
    public_url: str | None = None
    categories: tuple[()] = ()
    rules: tuple[()] = ()
    checks: tuple[()] = ()

    # What the console reads of the config (console/services.py ConsoleConfig).
    @property
    def web(self) -> Settings:
        return self.settings

    @property
    def daemon(self) -> World:
        return self

    @property
    def person_by_name(self) -> dict[str, Person]:
        return self.persons


def test_routes(console: Console, world: World) -> list[Route]:
    """A page per role, as later pages are written: a GET for viewers, a POST for responders
    (acting as the signed-in person), a GET for admins."""

    @console.require("viewer")
    async def seen(request: Request, visitor: Visitor) -> Response:
        return PlainTextResponse(f"hello {visitor.name}")

    @console.require("responder")
    async def act(request: Request, visitor: Visitor) -> Response:
        world.acted.append(f"{request.state.form.get('what')} by {visitor.name}")
        return console.redirect("/seen")

    @console.require("admin")
    async def admin(request: Request, visitor: Visitor) -> Response:
        return PlainTextResponse("admin page")

    return [
        Route("/seen", seen, methods=["GET"]),
        Route("/act", act, methods=["POST"]),
        Route("/admin", admin, methods=["GET"]),
    ]


test_routes.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.fixture
def world() -> World:
    persons = {n: Person(n, cheap_hash(PASSWORDS[n]), ROLES[n]) for n in PASSWORDS}
    persons["nopass"] = Person("nopass", None, "admin")
    return World(persons)


@pytest.fixture
def app(world: World) -> Starlette:
    async def no_stored_key() -> bytes:
        raise AssertionError("[web] secret is set: the stored key is not needed")

    services = ConsoleServices(
        listings=None,  # type: ignore[arg-type]  # these pages read nothing
        config=lambda: world,  # type: ignore[arg-type,return-value]
        stored_key=no_stored_key,
        now=world.clock,
    )
    console = Console(services)
    return Starlette(routes=[*signin.routes(console), *test_routes(console, world)])


def client_for(app: Starlette, address: str = "192.0.2.10") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://console.test")


async def test_sign_in_redirects_back_and_sets_a_safe_cookie(app):
    """A page without a session redirects to /login?next=<page>; signing in sets an HttpOnly
    SameSite=Lax cookie (not Secure on plain http) and returns to the page."""
    async with client_for(app) as client:
        page = await client.get("/seen?x=1")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=/seen%3Fx%3D1"
        done = await sign_in(client, "vera", next_path="/seen?x=1")
        assert done.status_code == 303 and done.headers["location"] == "/seen?x=1"
        cookie = done.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
        assert (await client.get("/seen")).text == "hello vera"


async def test_cookies_are_secure_behind_https(app, world):
    """With an https public_url ("auto") the session cookie carries Secure."""
    world.public_url = "https://esc.example.org"
    async with client_for(app) as client:
        form = await client.get("/login")
        assert "secure" in form.headers["set-cookie"].lower()


async def test_next_never_leaves_the_console(app):
    """A `next` naming another site is ignored: after signing in the visitor is on the board."""
    async with client_for(app) as client:
        done = await sign_in(client, "vera", next_path="//evil.example.org/x")
        assert done.headers["location"] == "/"


@pytest.mark.parametrize(
    ("name", "seen", "act", "admin"),
    [("vera", 200, 403, 403), ("rick", 200, 303, 403), ("ada", 200, 303, 200)],
)
async def test_each_role_reaches_its_pages_and_is_refused_the_others(app, world, name, seen,
                                                                     act, admin):  # fmt: skip
    """A viewer reads, a responder also acts, an admin does everything; a refusal is a 403
    page naming the role needed, and an action is done as the signed-in person."""
    async with client_for(app) as client:
        await sign_in(client, name)
        assert (await client.get("/seen")).status_code == seen
        token = _session_csrf(client)
        acted = await client.post("/act", data={"csrf": token, "what": "ack 7"})
        assert acted.status_code == act
        if act == 403:
            assert "responder role" in acted.text and world.acted == []
        else:
            assert world.acted == [f"ack 7 by {name}"]
        refused = await client.get("/admin")
        assert refused.status_code == admin
        if admin == 403:
            assert "admin role" in refused.text


def _session_csrf(client: httpx.AsyncClient) -> str:
    """The CSRF token of the client's session, as the pages put it in their forms."""
    found = sessions.load(SECRET.encode(), client.cookies.get(sessions.COOKIE))
    assert found is not None
    return found.csrf


async def test_a_post_without_the_sessions_csrf_token_is_refused(app, world):
    """A POST with no token, or another session's token, is a 403 and does nothing."""
    async with client_for(app) as client, client_for(app) as other:
        await sign_in(client, "rick")
        await sign_in(other, "rick")
        assert (await client.post("/act", data={"what": "x"})).status_code == 403
        wrong = await client.post("/act", data={"what": "x", "csrf": _session_csrf(other)})
        assert wrong.status_code == 403 and "reload the page" in wrong.text
        assert world.acted == []
        ok = await client.post("/act", data={"what": "x", "csrf": _session_csrf(client)})
        assert ok.status_code == 303 and world.acted == ["x by rick"]


async def test_sign_in_and_out_need_the_forms_token(app):
    """POST /login without the sign-in form's token, and POST /logout with a wrong one, are
    403; with the right one, sign-out deletes the session."""
    async with client_for(app) as client:
        bare = await client.post("/login", data={"name": "vera", "password": PASSWORDS["vera"]})
        assert bare.status_code == 403
        await sign_in(client, "vera")
        assert (await client.post("/logout", data={"csrf": "nope"})).status_code == 403
        assert (await client.get("/seen")).status_code == 200
        out = await client.post("/logout", data={"csrf": _session_csrf(client)})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert (await client.get("/seen")).status_code == 303


async def test_a_session_expires_on_the_server_after_session_ttl(app, world):
    """The same cookie works until session_ttl has passed, then the page redirects to sign in;
    a cookie signed with another key is no session at all."""
    async with client_for(app) as client:
        await sign_in(client, "vera")
        world.clock.at += timedelta(hours=11, minutes=59)
        assert (await client.get("/seen")).status_code == 200
        world.clock.at += timedelta(minutes=1)
        expired = await client.get("/seen")
        assert expired.status_code == 303 and expired.headers["location"].startswith("/login")
    forged = sessions.dump(b"another key entirely!!", sessions.new_session(world.clock.at, "ada"))
    async with client_for(app) as client:
        client.cookies.set(sessions.COOKIE, forged)
        assert (await client.get("/seen")).status_code == 303


async def test_a_new_password_or_removed_person_signs_the_session_out(app, world):
    """A session ends when the person's password_hash changes or the person is removed."""
    async with client_for(app) as client:
        await sign_in(client, "rick")
        world.persons["rick"].password_hash = cheap_hash("a brand new password")
        assert (await client.get("/seen")).status_code == 303
        await sign_in(client, "rick", "a brand new password")
        assert (await client.get("/seen")).status_code == 200
        del world.persons["rick"]
        assert (await client.get("/seen")).status_code == 303


async def test_wrong_and_unknown_sign_ins_look_alike_and_cost_one_verification(app, monkeypatch):
    """A wrong password, an unknown name and a person without a password each get the same
    401 answer after exactly one argon2 verification."""
    calls: list[str] = []
    real = signin._verify

    def counting(password_hash: str, password: str) -> bool:
        calls.append(password_hash[:9])
        return real(password_hash, password)

    monkeypatch.setattr(signin, "_verify", counting)
    async with client_for(app) as client:
        answers = [
            await sign_in(client, "vera", "not her password"),
            await sign_in(client, "nobody", "whatever password"),
            await sign_in(client, "nopass", "whatever password"),
        ]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert all("Unknown name or wrong password." in a.text for a in answers)
    assert calls == ["$argon2id"] * 3


async def test_failed_sign_ins_are_limited_per_address_and_per_name(app, world):
    """After MAX_FAILURES failures from one address, that address gets 429 with Retry-After
    even with the right password; so does a name tried from many addresses; once the window
    has passed, signing in works again."""
    async with client_for(app, "192.0.2.1") as client:
        for i in range(MAX_FAILURES):
            assert (await sign_in(client, f"guess{i}", "wrong password")).status_code == 401
        limited = await sign_in(client, "vera")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) == int(WINDOW.total_seconds())
        assert "Too many failed sign-ins" in limited.text
    for i in range(MAX_FAILURES):
        async with client_for(app, f"198.51.100.{i}") as client:
            assert (await sign_in(client, "ada", "wrong password")).status_code == 401
    async with client_for(app, "203.0.113.9") as client:
        assert (await sign_in(client, "ada")).status_code == 429
        assert (await sign_in(client, "vera")).status_code == 303  # other names are not held
    world.clock.at += WINDOW
    async with client_for(app, "192.0.2.1") as client:
        assert (await sign_in(client, "ada")).status_code == 303
