"""Helpers for the web console's tests: cheap argon2 hashes, the CSRF token of a page, a
client signed in through the real /login form."""

from __future__ import annotations

import re

import httpx
from argon2 import PasswordHasher

# Cheap parameters: verifying reads them from the hash, so sign-ins in tests stay fast.
_CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORDS = {"vera": "viewer-password", "rick": "responder-password", "ada": "admin-password"}
ROLES = {"vera": "viewer", "rick": "responder", "ada": "admin"}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def cheap_hash(password: str) -> str:
    return _CHEAP.hash(password)


def persons_toml() -> str:
    """[[person]] blocks for vera (viewer), rick (responder) and ada (admin)."""
    return "".join(
        f'\n[[person]]\nname = "{name}"\nfull_name = "{name.title()} Example"\n'
        f'password_hash = "{cheap_hash(PASSWORDS[name])}"\nrole = "{ROLES[name]}"\n'
        for name in PASSWORDS
    )


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, name: str, password: str | None = None,
                  next_path: str = "/") -> httpx.Response:  # fmt: skip
    """Fetch the sign-in form, then post it; the answer (303 on success) is returned."""
    form = await client.get("/login", params={"next": next_path})
    assert form.status_code == 200, form.text
    return await client.post(
        "/login",
        params={"next": next_path},
        data={"csrf": csrf_of(form.text), "name": name, "password": password or PASSWORDS[name]},
    )
